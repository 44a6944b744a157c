"""Security properties of terraform/modules/gcs-session-store and gcs-session-iam-condition.

Parsed with python-hcl2 (no Terraform, no network); every test asserts concrete
values so that weakening a property fails it. The evaluated condition expression
is tested by ``terraform test`` in terraform/modules/gcs-session-iam-condition/tests.
"""

from __future__ import annotations

from typing import Any

import pytest

from support.hcl_modules import (
    TERRAFORM,
    Module,
    dynamic_blocks,
    expr,
    load_module,
    locals_of,
    resource,
    resources_of,
    variable,
)

CONDITION_DIR = TERRAFORM / "modules" / "gcs-session-iam-condition"
STORE_DIR = TERRAFORM / "modules" / "gcs-session-store"
EXAMPLE_DIR = TERRAFORM / "examples" / "gcp-two-region"


@pytest.fixture(scope="module")
def store() -> Module:
    return load_module(STORE_DIR)


@pytest.fixture(scope="module")
def bucket(store: Module) -> dict[str, Any]:
    return resource(store, "google_storage_bucket", "this")


# --- bucket ------------------------------------------------------------------------


def test_uniform_bucket_level_access(bucket: dict[str, Any]) -> None:
    assert bucket["uniform_bucket_level_access"] is True


def test_public_access_prevention_enforced(bucket: dict[str, Any]) -> None:
    assert bucket["public_access_prevention"] == "enforced"


def test_versioning_enabled(bucket: dict[str, Any]) -> None:
    assert bucket["versioning"] == [{"enabled": True}]


def test_custom_dual_region_placement(bucket: dict[str, Any], store: Module) -> None:
    assert bucket["location"] == "${var.location}"
    assert bucket["custom_placement_config"] == [{"data_locations": "${var.data_locations}"}]
    declared = variable(store, "data_locations")
    assert declared["type"] == "${list(string)}"
    conditions = [expr(v["condition"]) for v in declared["validation"]]
    assert "${length(var.data_locations)==2&&length(distinct(var.data_locations))==2}" in conditions
    location = variable(store, "location")
    assert expr(location["validation"][0]["condition"]) == expr(
        '${contains(["US", "EU", "ASIA"], var.location)}'
    )


def test_turbo_replication_is_optional(bucket: dict[str, Any], store: Module) -> None:
    assert expr(bucket["rpo"]) == expr('${var.turbo_replication ? "ASYNC_TURBO" : "DEFAULT"}')
    assert variable(store, "turbo_replication")["default"] is False


def test_soft_delete_and_no_force_destroy(bucket: dict[str, Any], store: Module) -> None:
    assert bucket["soft_delete_policy"] == [
        {"retention_duration_seconds": "${var.soft_delete_retention_days * 86400}"}
    ]
    assert variable(store, "soft_delete_retention_days")["default"] == 7
    assert bucket["force_destroy"] is False


def test_lifecycle_rules(bucket: dict[str, Any]) -> None:
    rules = bucket["lifecycle_rule"]
    assert {
        "condition": [
            {
                "days_since_noncurrent_time": "${var.noncurrent_version_expiration_days}",
                "with_state": "ARCHIVED",
            }
        ],
        "action": [{"type": "Delete"}],
    } in rules
    assert {
        "condition": [{"age": "${var.abort_incomplete_multipart_days}"}],
        "action": [{"type": "AbortIncompleteMultipartUpload"}],
    } in rules
    (idle,) = dynamic_blocks(bucket, "lifecycle_rule")
    assert expr(idle["for_each"]) == expr(
        "${var.idle_session_expiration_days == null ? [] : [var.idle_session_expiration_days]}"
    )
    assert idle["content"] == [
        {
            "condition": [
                {
                    "age": "${lifecycle_rule.value}",
                    "matches_prefix": ["${var.session_prefix}"],
                    "with_state": "LIVE",
                }
            ],
            "action": [{"type": "Delete"}],
        }
    ]


def test_optional_cmek(bucket: dict[str, Any], store: Module) -> None:
    (encryption,) = dynamic_blocks(bucket, "encryption")
    assert expr(encryption["for_each"]) == expr("${local.use_cmek ? [var.kms_key_name] : []}")
    assert encryption["content"] == [{"default_kms_key_name": "${encryption.value}"}]
    assert locals_of(store)["use_cmek"] == "${var.kms_key_name != null}"
    grant = resource(store, "google_kms_crypto_key_iam_member", "storage_agent")
    assert grant["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    assert grant["crypto_key_id"] == "${var.kms_key_name}"


@pytest.mark.parametrize(
    "name",
    [
        "noncurrent_version_expiration_days",
        "abort_incomplete_multipart_days",
        "idle_session_expiration_days",
    ],
)
def test_day_counts_must_be_positive(store: Module, name: str) -> None:
    declared = variable(store, name)
    assert declared["type"] == "number"
    conditions = [expr(v["condition"]) for v in declared["validation"]]
    assert any(f"var.{name}>0" in condition for condition in conditions), conditions


# --- runtime IAM -------------------------------------------------------------------


def test_condition_is_startswith_on_the_prefix() -> None:
    values = locals_of(load_module(CONDITION_DIR))
    assert (
        values["object_name_prefix"]
        == "projects/_/buckets/${var.bucket_name}/objects/${var.session_prefix}"
    )
    assert values["expression"] == 'resource.name.startsWith("${local.object_name_prefix}")'


def test_runtime_object_role_is_conditioned_on_the_prefix(store: Module) -> None:
    binding = resource(store, "google_storage_bucket_iam_member", "runtime_objects")
    assert binding["bucket"] == "${google_storage_bucket.this.name}"
    assert binding["role"] == "${var.runtime_role}"
    assert binding["member"] == "${local.member}"
    assert binding["condition"] == [
        {
            "title": "${module.iam_condition.title}",
            "description": "${module.iam_condition.description}",
            "expression": "${module.iam_condition.expression}",
        }
    ]
    assert locals_of(store)["member"] == "serviceAccount:${var.runtime_service_account_email}"
    (call,) = [block["iam_condition"] for block in store["module"] if "iam_condition" in block]
    assert call == {
        "source": "../gcs-session-iam-condition",
        "bucket_name": "${var.bucket_name}",
        "session_prefix": "${var.session_prefix}",
    }


def test_runtime_role_is_object_user_or_object_admin(store: Module) -> None:
    declared = variable(store, "runtime_role")
    assert declared["default"] == "roles/storage.objectUser"
    assert expr(declared["validation"][0]["condition"]) == expr(
        '${contains(["roles/storage.objectUser", "roles/storage.objectAdmin"], var.runtime_role)}'
    )


def test_listing_is_a_list_only_role_on_this_bucket(store: Module) -> None:
    role = resource(store, "google_project_iam_custom_role", "lister")
    assert role["permissions"] == ["storage.objects.list"]
    binding = resource(store, "google_storage_bucket_iam_member", "runtime_list")
    assert binding["bucket"] == "${google_storage_bucket.this.name}"
    assert binding["member"] == "${local.member}"
    assert "condition" not in binding
    assert expr(binding["count"]) == expr('${var.list_access == "bucket" ? 1 : 0}')
    assert expr(variable(store, "list_access")["validation"][0]["condition"]) == expr(
        '${contains(["bucket", "none"], var.list_access)}'
    )


def test_no_authoritative_or_public_grants() -> None:
    for directory in (STORE_DIR, CONDITION_DIR, EXAMPLE_DIR):
        module = load_module(directory)
        for resource_type in (
            "google_storage_bucket_iam_binding",
            "google_storage_bucket_iam_policy",
            "google_storage_bucket_acl",
            "google_storage_default_object_acl",
            "google_storage_object_acl",
        ):
            assert resources_of(module, resource_type) == {}, (directory, resource_type)
        for path in directory.glob("*.tf"):
            text = path.read_text(encoding="utf-8")
            assert "allUsers" not in text, path
            assert "allAuthenticatedUsers" not in text, path


def test_outputs_include_store_url_and_policy_json(store: Module) -> None:
    outputs: dict[str, Any] = {}
    for block in store["output"]:
        outputs.update(block)
    assert outputs["store_url"]["value"] == "${module.iam_condition.store_url}"
    assert "runtime_iam_policy_json" in outputs
    condition_outputs: dict[str, Any] = {}
    for block in load_module(CONDITION_DIR)["output"]:
        condition_outputs.update(block)
    assert (
        condition_outputs["store_url"]["value"] == "gs://${var.bucket_name}/${var.session_prefix}"
    )


def test_every_variable_is_typed_and_described(store: Module) -> None:
    for module in (store, load_module(CONDITION_DIR)):
        for block in module["variable"]:
            for name, declared in block.items():
                assert declared.get("type"), name
                assert len(declared.get("description", "")) > 10, name


# --- example -----------------------------------------------------------------------


def test_example_two_cloud_run_regions_share_the_dual_region_bucket() -> None:
    example = load_module(EXAMPLE_DIR)
    (call,) = [block["session_store"] for block in example["module"] if "session_store" in block]
    assert call["source"] == "../../modules/gcs-session-store"
    assert call["location"] == "US"
    assert expr(call["data_locations"]) == expr("${[for r in var.regions : upper(r)]}")
    assert call["runtime_service_account_email"] == "${google_service_account.agent.email}"
    service = resource(example, "google_cloud_run_v2_service", "agent")
    assert service["for_each"] == "${toset(var.regions)}"
    assert service["location"] == "${each.key}"
    (template,) = service["template"]
    assert template["service_account"] == "${google_service_account.agent.email}"
    (container,) = template["containers"]
    assert {"name": "SESSIONSTORE_URL", "value": "${module.session_store.store_url}"} in (
        container["env"]
    )
    regions = variable(example, "regions")
    assert regions["default"] == ["us-central1", "us-east4"]
