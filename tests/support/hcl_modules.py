"""Reading Terraform modules as data (python-hcl2, no Terraform, no network)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

__all__ = [
    "TERRAFORM",
    "Module",
    "dynamic_blocks",
    "expr",
    "load_module",
    "locals_of",
    "resource",
    "resources_of",
    "variable",
]

TERRAFORM = Path(__file__).resolve().parents[2] / "terraform"

_OPTIONS = SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)

Module = dict[str, list[Any]]


def load_module(directory: Path) -> Module:
    """All top-level blocks of every .tf file in ``directory``, merged by block type."""
    merged: Module = {}
    files = sorted(directory.glob("*.tf"))
    assert files, f"no .tf files in {directory}"
    for path in files:
        with path.open(encoding="utf-8") as handle:
            document: dict[str, list[Any]] = hcl2.load(handle, serialization_options=_OPTIONS)
        for key, blocks in document.items():
            merged.setdefault(key, []).extend(blocks)
    return merged


def locals_of(module: Module) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for block in module.get("locals", []):
        values.update(block)
    return values


def resources_of(module: Module, resource_type: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in module.get("resource", []):
        found.update(block.get(resource_type, {}))
    return found


def resource(module: Module, resource_type: str, name: str) -> dict[str, Any]:
    found = resources_of(module, resource_type)
    assert name in found, f"missing resource {resource_type}.{name}"
    return found[name]


def variable(module: Module, name: str) -> dict[str, Any]:
    for block in module.get("variable", []):
        if name in block:
            found: dict[str, Any] = block[name]
            return found
    raise AssertionError(f"missing variable {name}")


def expr(value: object) -> str:
    """An HCL expression as a whitespace-free string, for exact comparisons."""
    assert isinstance(value, str), f"expected an expression string, got {value!r}"
    return re.sub(r"\s+", "", value)


def dynamic_blocks(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [block[name] for block in body.get("dynamic", []) if name in block]
