"""open_store routing, install hints, and the cost of ``import sessionstore``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sessionstore import (
    FsPersistence,
    InvalidStoreUrl,
    MemoryPersistence,
    MissingDependency,
    SessionStoreError,
    errors,
    open_store,
    register_store,
)
from sessionstore.registry import _BACKENDS, _Backend


def test_memory_and_file_urls() -> None:
    assert isinstance(open_store("memory://"), MemoryPersistence)
    store = open_store("file:///var/tmp/x", max_bytes=1024)
    assert isinstance(store, FsPersistence)
    assert str(store.directory) == "/var/tmp/x"
    assert store.max_bytes == 1024


@pytest.mark.parametrize(
    "url",
    [
        "",
        "sessions",
        "ftp://host/x",
        "memory://name/path",
        "memory://a%20b",
        "memory://name?max=1",
        "file://",
        "file://localhost",
        "file:///x?fsync=no",
        "file:///x?mode=0999",
        "file:///x?mode=01777",
    ],
)
def test_bad_urls_are_clear_errors(url: str) -> None:
    with pytest.raises(InvalidStoreUrl):
        open_store(url)


def test_missing_extra_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        _BACKENDS, "s3", _Backend("sessionstore.adapters.s3:S3Persistence", "s3", ("no_such_sdk",))
    )
    with pytest.raises(MissingDependency, match=r"sessionstore\[s3\]") as caught:
        open_store("s3://bucket/prefix")
    assert isinstance(caught.value, ImportError)


def test_the_install_hint_follows_the_chosen_s3_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = _Backend(
        "sessionstore.adapters.s3:S3Persistence",
        "s3",
        ("no_such_sdk",),
        variants=("transport", {"obstore": ("obstore", ("no_such_fast_sdk",))}),
    )
    monkeypatch.setitem(_BACKENDS, "s3", backend)
    with pytest.raises(MissingDependency, match=r"sessionstore\[obstore\]"):
        open_store("s3://bucket/prefix?transport=obstore")
    with pytest.raises(MissingDependency, match=r"sessionstore\[obstore\]"):
        open_store("s3://bucket/prefix", transport="obstore")
    # The keyword wins over the query, as it does for every option.
    with pytest.raises(MissingDependency, match=r"sessionstore\[s3\]"):
        open_store("s3://bucket/prefix?transport=obstore", transport="boto3")


def test_register_store_routes_a_new_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(_BACKENDS, "mem2", _BACKENDS["memory"])
    register_store("mem2", "sessionstore.memory:MemoryPersistence")
    assert isinstance(open_store("mem2://"), MemoryPersistence)


def test_every_error_is_a_session_store_error() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), SessionStoreError), name


def test_import_loads_no_cloud_sdk_or_cli_framework() -> None:
    code = (
        "import json, sys\n"
        "import sessionstore\n"
        "sessionstore.open_store('memory://')\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    modules = json.loads(result.stdout)
    heavy = (
        "boto3",
        "botocore",
        "google",
        "click",
        "typer",
        "rich",
        "tqdm",
        "argcomplete",
        "obstore",
        "sessionstore.cli",
    )
    assert [m for m in modules if m.split(".")[0] in heavy or m.startswith(heavy)] == []
    assert "sessionstore.adapters.s3" not in modules


def test_the_writer_and_the_core_load_no_genai_or_websockets() -> None:
    code = (
        "import json, sys\n"
        "import sessionstore, sessionstore.writer\n"
        "sessionstore.open_store('memory://')\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    modules = json.loads(result.stdout)
    assert "sessionstore.writer" in modules
    unwanted = ("google", "websockets", "cryptography", "sessionstore.adapters")
    assert [m for m in modules if m.startswith(unwanted)] == []


def test_every_public_name_resolves_lazily() -> None:
    import sessionstore

    assert sorted(sessionstore.__all__) == sorted(sessionstore._LOCATIONS)
    for name in sessionstore.__all__:
        assert getattr(sessionstore, name) is not None
    with pytest.raises(AttributeError):
        _ = sessionstore.no_such_name
