"""Structure of terraform/: module files, version pins, READMEs in sync, checkov skips."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from support.hcl_modules import TERRAFORM, load_module

if TYPE_CHECKING:
    from pathlib import Path

MODULES = sorted(p for p in (TERRAFORM / "modules").iterdir() if p.is_dir())
EXAMPLES = sorted(p for p in (TERRAFORM / "examples").iterdir() if p.is_dir())
PROVIDER_FREE = {"s3-session-policies", "gcs-session-iam-condition"}


def names(module: dict[str, list[Any]], kind: str) -> set[str]:
    return {name for block in module.get(kind, []) for name in block}


def readme_table_names(readme: str, heading: str) -> set[str]:
    """First-column names of the markdown table under ``## heading``."""
    match = re.search(rf"^## {heading}\n(.*?)(?=^## |\Z)", readme, re.MULTILINE | re.DOTALL)
    assert match, f"README has no '## {heading}' section"
    return set(re.findall(r"^\| `([a-z0-9_]+)` \|", match.group(1), re.MULTILINE))


def test_expected_modules_and_examples_exist() -> None:
    assert {p.name for p in MODULES} == {
        "s3-session-store",
        "s3-session-policies",
        "gcs-session-store",
        "gcs-session-iam-condition",
    }
    assert {p.name for p in EXAMPLES} == {"aws-two-region", "gcp-two-region"}
    assert (TERRAFORM / "README.md").is_file()


@pytest.mark.parametrize("directory", MODULES + EXAMPLES, ids=lambda p: p.name)
def test_standard_files_present(directory: Path) -> None:
    for file_name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        assert (directory / file_name).is_file(), file_name


@pytest.mark.parametrize("directory", MODULES + EXAMPLES, ids=lambda p: p.name)
def test_readme_tables_match_variables_and_outputs(directory: Path) -> None:
    module = load_module(directory)
    readme = (directory / "README.md").read_text(encoding="utf-8")
    assert readme_table_names(readme, "Inputs") == names(module, "variable")
    assert readme_table_names(readme, "Outputs") == names(module, "output")


@pytest.mark.parametrize("directory", MODULES + EXAMPLES, ids=lambda p: p.name)
def test_version_constraints(directory: Path) -> None:
    (terraform_block,) = load_module(directory)["terraform"]
    assert terraform_block["required_version"] == ">= 1.9.0"
    providers = terraform_block.get("required_providers", [])
    if directory.name in PROVIDER_FREE:
        assert providers == []
        return
    (required,) = providers
    assert required, "a provider-backed configuration must pin its providers"
    for provider in required.values():
        assert provider["source"] in {"hashicorp/aws", "hashicorp/google"}
        assert re.fullmatch(r">= [0-9.]+, < [0-9.]+", provider["version"]), provider


@pytest.mark.parametrize("name", sorted(PROVIDER_FREE))
def test_provider_free_modules_stay_provider_free_and_tested(name: str) -> None:
    directory = TERRAFORM / "modules" / name
    module = load_module(directory)
    assert "resource" not in module
    assert "data" not in module
    assert "provider" not in module
    tests = sorted((directory / "tests").glob("*.tftest.hcl"))
    assert tests, "provider-free modules carry terraform tests"
    text = "\n".join(t.read_text(encoding="utf-8") for t in tests)
    assert "command = apply" in text
    assert "expect_failures" in text


def _checkov_skips() -> dict[str, list[str]]:
    """Each skipped check id with the comment lines directly above it."""
    lines = (TERRAFORM / ".checkov.yaml").read_text(encoding="utf-8").splitlines()
    start = lines.index("skip-check:")
    skips: dict[str, list[str]] = {}
    comments: list[str] = []
    for line in lines[start + 1 :]:
        stripped = line.strip()
        if stripped.startswith("#"):
            comments.append(stripped.lstrip("# "))
        elif stripped.startswith("- "):
            skips[stripped[2:].strip()] = comments
            comments = []
        elif stripped:
            break
    return skips


def test_every_checkov_skip_has_a_reason() -> None:
    skips = _checkov_skips()
    assert skips
    for check_id, reason in skips.items():
        assert re.fullmatch(r"CKV2?_(AWS|GCP)_[0-9]+", check_id), check_id
        assert len(" ".join(reason)) > 40, f"{check_id} needs a reason comment"


def test_core_properties_are_never_skipped_in_checkov() -> None:
    protected = {
        "CKV_AWS_7",  # KMS key rotation
        "CKV_AWS_19",  # S3 encryption at rest
        "CKV_AWS_21",  # S3 versioning
        "CKV_AWS_53",  # block public ACLs
        "CKV_AWS_54",  # block public policy
        "CKV_AWS_55",  # ignore public ACLs
        "CKV_AWS_56",  # restrict public buckets
        "CKV_AWS_145",  # S3 encrypted with KMS
        "CKV_AWS_300",  # abort incomplete multipart uploads
        "CKV2_AWS_6",  # public access block attached
        "CKV2_AWS_61",  # lifecycle configuration
        "CKV2_AWS_65",  # ACLs disabled (ownership controls)
        "CKV_GCP_29",  # uniform bucket-level access
        "CKV_GCP_78",  # GCS versioning
        "CKV_GCP_114",  # public access prevention
    }
    assert protected.isdisjoint(_checkov_skips())


def test_check_script_is_strict_and_offline() -> None:
    script = (TERRAFORM.parent / "scripts" / "check_terraform.sh").read_text(encoding="utf-8")
    assert "set -euo pipefail" in script
    assert "--skip-download" in script
    assert "TF_CLI_CONFIG_FILE=/dev/null" in script
    assert "CHECKPOINT_DISABLE=1" in script
    assert "init -backend=false" in script
