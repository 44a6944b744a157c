"""Named in-process memory stores, ``file://localhost``, and file modes (issue 17)."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sessionstore import FsPersistence, InvalidStoreUrl, MemoryPersistence, open_store
from sessionstore.registry import drop_memory_store
from sessionstore.testing import make_snapshot

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def umask_022() -> Iterator[None]:
    """Fix the umask so created modes are exactly the requested bits (restored afterwards)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_named_memory_store_is_shared_per_process_and_name() -> None:
    async def handle(call_id: str, turn: int) -> int | None:
        # The README's pattern: open a store per call.
        async with open_store("memory://agents") as store:
            current = await store.load(call_id)
            await store.save(call_id, make_snapshot(turn))
            return current.turn_count if current else None

    try:
        assert asyncio.run(handle("call-1", 1)) is None
        assert asyncio.run(handle("call-1", 2)) == 1  # the previous call's save is there
        assert open_store("memory://agents") is open_store("memory://agents")
        assert open_store("memory://other").blocking.load("call-1") is None
        assert open_store("memory://").blocking.load("call-1") is None  # plain: private
        assert open_store("memory://") is not open_store("memory://")
    finally:
        assert drop_memory_store("agents")
        drop_memory_store("other")
    assert open_store("memory://agents").blocking.load("call-1") is None
    drop_memory_store("agents")


def test_named_memory_store_takes_options_when_created() -> None:
    try:
        store = open_store("memory://small", max_bytes=1000)
        assert isinstance(store, MemoryPersistence)
        assert store.max_bytes == 1000
        assert open_store("memory://small").max_bytes == 1000
    finally:
        drop_memory_store("small")


def test_file_localhost_is_the_local_absolute_path(tmp_path: Path) -> None:
    store = open_store(f"file://localhost{tmp_path}/x")
    assert isinstance(store, FsPersistence)
    assert store.directory == tmp_path / "x"
    upper = open_store(f"file://LOCALHOST{tmp_path}/x")
    assert isinstance(upper, FsPersistence)
    assert upper.directory == tmp_path / "x"
    relative = open_store("file://relative/dir")
    assert isinstance(relative, FsPersistence)
    assert str(relative.directory) == "relative/dir"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("umask_022")
def test_files_are_private_by_default(tmp_path: Path) -> None:
    FsPersistence(tmp_path).blocking.save("s", make_snapshot(1))
    assert _mode(tmp_path / "s.json") == 0o600
    locks = list((tmp_path / ".sessionstore-locks").iterdir())
    assert locks
    assert {_mode(lock) for lock in locks} == {0o600}


@pytest.mark.usefixtures("umask_022")
@pytest.mark.parametrize("how", ["keyword", "url"])
def test_file_mode_is_configurable(tmp_path: Path, how: str) -> None:
    if how == "keyword":
        store = FsPersistence(tmp_path, file_mode=0o640)
    else:
        opened = open_store(f"file://{tmp_path}?mode=0640")
        assert isinstance(opened, FsPersistence)
        store = opened
    assert store.file_mode == 0o640
    store.blocking.save("s", make_snapshot(1))
    store.blocking.save("s", make_snapshot(2))  # a replacement keeps the mode too
    assert _mode(tmp_path / "s.json") == 0o640
    assert {_mode(lock) for lock in (tmp_path / ".sessionstore-locks").iterdir()} == {0o640}


@pytest.mark.parametrize("mode", [-1, 0o1000, 0o4755])
def test_bad_file_modes_are_refused_before_anything_is_written(tmp_path: Path, mode: int) -> None:
    with pytest.raises(ValueError, match="file_mode"):
        FsPersistence(tmp_path / "d", file_mode=mode)
    with pytest.raises(InvalidStoreUrl):
        open_store(f"file://{tmp_path}/d?mode={mode:o}")
    assert not (tmp_path / "d").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a reader as another user")
@pytest.mark.usefixtures("umask_022")
@pytest.mark.parametrize(("mode", "readable"), [(0o600, False), (0o644, True)])
def test_another_user_can_read_only_with_a_wider_mode(mode: int, readable: bool) -> None:
    """The reference design's failure: a reader running as another user got Permission denied."""
    with tempfile.TemporaryDirectory() as top:  # /tmp/x: reachable by every user once 0755
        os.chmod(top, 0o755)
        _read_as_nobody(Path(top) / "shared", mode, readable)


def _read_as_nobody(directory: Path, mode: int, readable: bool) -> None:
    FsPersistence(directory, file_mode=mode).blocking.save("s", make_snapshot(1))
    os.chmod(directory, 0o755)
    reader = (
        "import os, sys\n"
        "from sessionstore import FsPersistence, AccessDenied\n"
        "store = FsPersistence(sys.argv[1]).blocking\n"
        "store.load('s')  # as root: imports every module the load needs\n"
        "os.setgid(65534); os.setuid(65534)  # now as 'nobody'\n"
        "try:\n"
        "    print(store.load('s').turn_count)\n"
        "except AccessDenied as exc:\n"
        "    print('denied', exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", reader, str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1" if readable else "denied"), result.stdout
