"""Security properties of terraform/modules/s3-session-store and s3-session-policies.

The .tf files are parsed with python-hcl2 (no Terraform, no network) and each test
asserts concrete values, so weakening a property (a public-access flag set to
false, versioning suspended, an extra IAM action, the CAS deny no longer behind
its variable, ...) fails a test. The evaluated policy JSON is tested by
``terraform test`` in terraform/modules/s3-session-policies/tests (run by
scripts/check_terraform.sh).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from support.hcl_modules import (
    TERRAFORM,
    Module,
    expr,
    load_module,
    locals_of,
    resource,
    resources_of,
    variable,
)

if TYPE_CHECKING:
    from pathlib import Path

POLICIES_DIR = TERRAFORM / "modules" / "s3-session-policies"
STORE_DIR = TERRAFORM / "modules" / "s3-session-store"
EXAMPLE_DIR = TERRAFORM / "examples" / "aws-two-region"


@pytest.fixture(scope="module")
def policies() -> Module:
    return load_module(POLICIES_DIR)


@pytest.fixture(scope="module")
def policy_locals(policies: Module) -> dict[str, Any]:
    return locals_of(policies)


@pytest.fixture(scope="module")
def store() -> Module:
    return load_module(STORE_DIR)


# --- bucket policy -----------------------------------------------------------------


def test_bucket_policy_denies_plain_http(policy_locals: dict[str, Any]) -> None:
    statement = policy_locals["deny_insecure_transport"]
    assert statement == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": ["${local.bucket_arn}", "${local.bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def test_bucket_policy_denies_tls_below_1_2(policy_locals: dict[str, Any]) -> None:
    statement = policy_locals["deny_outdated_tls"]
    assert statement == {
        "Sid": "DenyOutdatedTls",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": ["${local.bucket_arn}", "${local.bucket_arn}/*"],
        "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
    }


def test_cas_deny_requires_if_match_or_if_none_match(policy_locals: dict[str, Any]) -> None:
    statement = policy_locals["deny_unconditional_session_writes"]
    assert statement == {
        "Sid": "DenyUnconditionalSessionWrites",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": "${local.session_objects_arn}",
        "Condition": {
            "Null": {"s3:if-match": "true", "s3:if-none-match": "true"},
            "Bool": {"s3:ObjectCreationOperation": "true"},
        },
    }
    assert (
        policy_locals["session_objects_arn"]
        == "arn:${var.partition}:s3:::${var.bucket_name}/${var.session_prefix}*"
    )


def test_cas_deny_is_behind_its_variable_and_tls_denies_are_not(
    policy_locals: dict[str, Any],
) -> None:
    assert expr(policy_locals["bucket_policy_statements"]) == expr(
        "${concat([local.deny_insecure_transport, local.deny_outdated_tls],"
        " var.enforce_conditional_writes ? [local.deny_unconditional_session_writes] : [])}"
    )
    assert policy_locals["bucket_policy"] == {
        "Version": "2012-10-17",
        "Statement": "${local.bucket_policy_statements}",
    }


@pytest.mark.parametrize("directory", [POLICIES_DIR, STORE_DIR])
def test_cas_enforcement_defaults_to_on(directory: Path) -> None:
    declared = variable(load_module(directory), "enforce_conditional_writes")
    assert declared["type"] == "bool"
    assert declared["default"] is True


def test_store_passes_the_cas_switch_and_applies_the_policy(store: Module) -> None:
    (call,) = [block["policies"] for block in store["module"] if "policies" in block]
    assert call["source"] == "../s3-session-policies"
    assert call["enforce_conditional_writes"] == "${var.enforce_conditional_writes}"
    assert call["session_prefix"] == "${var.session_prefix}"
    assert call["kms_key_arn"] == "${local.kms_key_arn}"
    bucket_policy = resource(store, "aws_s3_bucket_policy", "this")
    assert bucket_policy["bucket"] == "${aws_s3_bucket.this.id}"
    assert bucket_policy["policy"] == "${module.policies.bucket_policy_json}"


# --- runtime IAM policy ------------------------------------------------------------


def test_runtime_object_actions_are_exactly_get_put_delete(policy_locals: dict[str, Any]) -> None:
    assert sorted(policy_locals["runtime_object_verbs"]) == [
        "s3:DeleteObject",
        "s3:GetObject",
        "s3:PutObject",
    ]
    assert policy_locals["runtime_session_objects"] == {
        "Sid": "SessionObjectsReadWrite",
        "Effect": "Allow",
        "Action": "${local.runtime_object_verbs}",
        "Resource": ["${local.session_objects_arn}"],
    }


def test_runtime_listing_is_the_session_bucket_only(policy_locals: dict[str, Any]) -> None:
    # Unconditioned on purpose: with an s3:prefix condition a GetObject of a
    # missing key answers 403 instead of 404 (see the module's comment).
    assert policy_locals["runtime_list_bucket"] == {
        "Sid": "SessionBucketList",
        "Effect": "Allow",
        "Action": ["s3:ListBucket"],
        "Resource": ["${local.bucket_arn}"],
    }


def test_runtime_kms_use_is_scoped_to_the_key_via_s3(policy_locals: dict[str, Any]) -> None:
    assert policy_locals["runtime_kms"] == {
        "Sid": "SessionKeyUseViaS3",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": ["${var.kms_key_arn}"],
        "Condition": {"StringEquals": {"kms:ViaService": "${local.s3_kms_via_service}"}},
    }
    assert policy_locals["s3_kms_via_service"] == "s3.${var.home_region}.amazonaws.com"


def test_runtime_policy_has_only_the_three_statements(policy_locals: dict[str, Any]) -> None:
    assert policy_locals["runtime_policy"] == {
        "Version": "2012-10-17",
        "Statement": [
            "${local.runtime_session_objects}",
            "${local.runtime_list_bucket}",
            "${local.runtime_kms}",
        ],
    }


def _statements(value: object) -> list[dict[str, Any]]:
    """Every IAM statement-shaped dict nested anywhere in a parsed value."""
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        if "Effect" in value:
            found.append(value)
        for child in value.values():
            found.extend(_statements(child))
    elif isinstance(value, list):
        for child in value:
            found.extend(_statements(child))
    return found


def test_no_allow_statement_uses_wildcard_actions_or_resources(
    policy_locals: dict[str, Any],
) -> None:
    allows = [s for s in _statements(policy_locals) if s["Effect"] == "Allow"]
    assert len(allows) >= 3
    for statement in allows:
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        assert not any(a.endswith("*") for a in actions), statement
        assert "*" not in statement.get("Resource", []), statement
    # The one wildcard in the module: the key policy's delegation to the account root.
    main_tf = (POLICIES_DIR / "main.tf").read_text(encoding="utf-8")
    assert 'Principal = { AWS = "arn:${var.partition}:iam::${var.account_id}:root" }' in main_tf


def test_runtime_policy_is_attached_from_the_module_output(store: Module) -> None:
    runtime = resource(store, "aws_iam_policy", "runtime")
    assert runtime["policy"] == "${module.policies.runtime_policy_json}"


# --- bucket configuration ----------------------------------------------------------


@pytest.mark.parametrize("name", ["this", "replica"])
def test_versioning_enabled(store: Module, name: str) -> None:
    versioning = resource(store, "aws_s3_bucket_versioning", name)
    assert versioning["versioning_configuration"] == [{"status": "Enabled"}]


@pytest.mark.parametrize("name", ["this", "replica"])
def test_all_four_public_access_blocks(store: Module, name: str) -> None:
    block = resource(store, "aws_s3_bucket_public_access_block", name)
    flags = {
        key: block.get(key)
        for key in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
    }
    assert flags == dict.fromkeys(flags, True)


@pytest.mark.parametrize("name", ["this", "replica"])
def test_bucket_owner_enforced(store: Module, name: str) -> None:
    controls = resource(store, "aws_s3_bucket_ownership_controls", name)
    assert controls["rule"] == [{"object_ownership": "BucketOwnerEnforced"}]


def test_no_acl_or_mrap_resources(store: Module) -> None:
    for resource_type in (
        "aws_s3_bucket_acl",
        "aws_s3control_multi_region_access_point",
        "aws_s3control_multi_region_access_point_policy",
    ):
        assert resources_of(store, resource_type) == {}, resource_type


def test_default_encryption_is_sse_kms_with_the_bucket_key(store: Module) -> None:
    sse = resource(store, "aws_s3_bucket_server_side_encryption_configuration", "this")
    (rule,) = sse["rule"]
    assert rule["apply_server_side_encryption_by_default"] == [
        {"sse_algorithm": "aws:kms", "kms_master_key_id": "${local.kms_key_arn}"}
    ]
    assert rule["bucket_key_enabled"] is True
    assert expr(locals_of(store)["kms_key_arn"]) == expr(
        "${local.create_kms_key ? aws_kms_key.this[0].arn : var.kms_key_arn}"
    )
    assert locals_of(store)["create_kms_key"] == "${var.kms_key_arn == null}"


def test_replica_encryption_is_sse_kms(store: Module) -> None:
    sse = resource(store, "aws_s3_bucket_server_side_encryption_configuration", "replica")
    (rule,) = sse["rule"]
    assert rule["apply_server_side_encryption_by_default"] == [
        {"sse_algorithm": "aws:kms", "kms_master_key_id": "${aws_kms_key.replica[0].arn}"}
    ]


@pytest.mark.parametrize("name", ["this", "replica"])
def test_created_keys_rotate(store: Module, name: str) -> None:
    key = resource(store, "aws_kms_key", name)
    assert key["enable_key_rotation"] is True
    assert key["policy"] == "${module.policies.kms_key_policy_json}"


def test_lifecycle_rules(store: Module) -> None:
    lifecycle = resource(store, "aws_s3_bucket_lifecycle_configuration", "this")
    rules = {rule["id"]: rule for rule in lifecycle["rule"]}
    assert set(rules) == {
        "expire-noncurrent-versions",
        "abort-incomplete-multipart-uploads",
        "remove-expired-delete-markers",
        "expire-idle-sessions",
    }
    assert rules["expire-noncurrent-versions"]["noncurrent_version_expiration"] == [
        {"noncurrent_days": "${var.noncurrent_version_expiration_days}"}
    ]
    assert rules["abort-incomplete-multipart-uploads"]["abort_incomplete_multipart_upload"] == [
        {"days_after_initiation": "${var.abort_incomplete_multipart_days}"}
    ]
    assert rules["remove-expired-delete-markers"]["expiration"] == [
        {"expired_object_delete_marker": True}
    ]
    idle = rules["expire-idle-sessions"]
    assert expr(idle["status"]) == expr(
        '${var.idle_session_expiration_days == null ? "Disabled" : "Enabled"}'
    )
    assert idle["filter"] == [{"prefix": "${var.session_prefix}"}]
    for rule_id in ("expire-noncurrent-versions", "abort-incomplete-multipart-uploads"):
        assert rules[rule_id]["status"] == "Enabled"
        assert rules[rule_id]["filter"] == [{}]


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


# --- replication -------------------------------------------------------------------


def test_replication_is_one_way_into_a_read_only_replica(
    store: Module, policy_locals: dict[str, Any]
) -> None:
    configs = resources_of(store, "aws_s3_bucket_replication_configuration")
    assert list(configs) == ["this"], "replication must only run home -> replica"
    config = configs["this"]
    assert config["bucket"] == "${aws_s3_bucket.this.id}"
    (rule,) = config["rule"]
    assert rule["filter"] == [{"prefix": "${var.session_prefix}"}]
    (destination,) = rule["destination"]
    assert destination["bucket"] == "${aws_s3_bucket.replica[0].arn}"
    assert policy_locals["replica_deny_writes"] == {
        "Sid": "DenyWritesToReadReplica",
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObject"],
        "Resource": "${local.replica_objects_arn}",
    }
    assert variable(store, "replica_read_only")["default"] is True
    assert variable(store, "enable_replication")["default"] is False
    replica_policy = resource(store, "aws_s3_bucket_policy", "replica")
    assert replica_policy["policy"] == "${module.policies.replica_bucket_policy_json}"


# --- inputs ------------------------------------------------------------------------

_PREFIX_REGEX = re.compile(r'regex\("([^"]+)",\s*var\.session_prefix\)')


@pytest.mark.parametrize(
    "directory",
    [
        POLICIES_DIR,
        STORE_DIR,
        TERRAFORM / "modules" / "gcs-session-iam-condition",
        TERRAFORM / "modules" / "gcs-session-store",
    ],
)
def test_session_prefix_validation(directory: Path) -> None:
    declared = variable(load_module(directory), "session_prefix")
    (condition,) = [v["condition"] for v in declared["validation"]]
    match = _PREFIX_REGEX.search(condition)
    assert match, condition
    pattern = re.compile(match.group(1))
    for good in ("sessions/", "agents/prod/", "tenant-1/sessions.v2/"):
        assert pattern.search(good), good
    for bad in ("", "/", "/sessions/", "sessions", "a//b/", "sess*/", "a/$x/", 'a"/'):
        assert not pattern.search(bad), bad


def test_every_variable_is_typed_and_described(store: Module, policies: Module) -> None:
    for module in (store, policies):
        for block in module["variable"]:
            for name, declared in block.items():
                assert declared.get("type"), name
                assert len(declared.get("description", "")) > 10, name


def test_outputs_include_the_store_url_and_policy_json(store: Module) -> None:
    outputs: dict[str, Any] = {}
    for block in store["output"]:
        outputs.update(block)
    assert outputs["store_url"]["value"] == "${module.policies.store_url}"
    assert outputs["runtime_policy_json"]["value"] == "${module.policies.runtime_policy_json}"
    assert outputs["bucket_policy_json"]["value"] == "${module.policies.bucket_policy_json}"
    policy_outputs: dict[str, Any] = {}
    for block in load_module(POLICIES_DIR)["output"]:
        policy_outputs.update(block)
    assert policy_outputs["store_url"]["value"] == "s3://${var.bucket_name}/${var.session_prefix}"


# --- example -----------------------------------------------------------------------


def test_example_two_regions_write_to_the_one_home_bucket() -> None:
    example = load_module(EXAMPLE_DIR)
    (call,) = [block["session_store"] for block in example["module"] if "session_store" in block]
    assert call["source"] == "../../modules/s3-session-store"
    assert call["enforce_conditional_writes"] is True
    functions = resources_of(example, "aws_lambda_function")
    assert set(functions) == {"agent_us", "agent_eu"}
    assert {f["provider"] for f in functions.values()} == {
        "${aws.us_east_1}",
        "${aws.eu_west_1}",
    }
    for function in functions.values():
        assert function["environment"] == [{"variables": "${local.agent_environment}"}]
    environment = locals_of(example)["agent_environment"]
    assert environment["SESSIONSTORE_URL"] == "${module.session_store.store_url}"
    attachment = resource(example, "aws_iam_role_policy_attachment", "agent_sessions")
    assert attachment["policy_arn"] == "${module.session_store.runtime_policy_arn}"
