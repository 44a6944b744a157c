"""Durable local store: one JSON file per session, crash-safe and safe across processes.

Layout of the directory (compatible with the seed's ``FsPersistence``)::

    <id>.json                         one session (the seed's name)
    .<id>.json.<random>.tmp           a write in progress (never listed as a session)
    .sessionstore-locks/<nn>.lock     256 striped lock files, never deleted

A write holds the flock of its session's stripe while it writes a uniquely named
temp file, fsyncs it, renames it over ``<id>.json`` and fsyncs the directory: once
``save`` returns the snapshot survives a crash or power loss, and two writers of
one session can never interleave. Loads take no lock: rename is atomic, so a
reader sees the old file or the new one, never a torn one. A temp file exists
only while its writer holds the stripe lock, so anyone holding that lock may
delete temp files left by a crashed writer (:meth:`FsPersistence.sweep`, also run
once per store before its first write; it never fails a save: an entry it cannot
remove is skipped). Creating the directory fsyncs every parent that ``mkdir -p``
created, so a brand-new store's directory survives power loss with its first save.

A write that is cancelled while it waits for its lock never writes. A forked
child never holds a lock its parent took for a save in flight: the child closes
its inherited copies of the lock descriptors at fork.

POSIX only (``fcntl.flock``); a local filesystem, not NFS. Ids differing only in
letter case collide on case-insensitive filesystems.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import secrets
import threading
import zlib
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sessionstore._workers import point_of_no_return
from sessionstore.codec import version_of
from sessionstore.contract import (
    ANY_VERSION,
    DEFAULT_MAX_BYTES,
    ListedObject,
    SessionPersistence,
    StoredObject,
    check_expected,
)
from sessionstore.errors import (
    AccessDenied,
    BackendError,
    InvalidStoreUrl,
    SnapshotTooLarge,
    StoreNotFound,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Generator, Iterator

    from sessionstore.contract import ExpectedVersion, RemoveExpected
    from sessionstore.registry import StoreUrl

__all__ = ["FsPersistence"]

_SUFFIX = ".json"
_TMP_SUFFIX = ".tmp"
_LOCK_DIR = ".sessionstore-locks"
_STRIPES = 256
_LIST_BATCH = 512
T = TypeVar("T")

_log = logging.getLogger(__name__)

# Lock descriptors held right now by this process (a set: add/discard are atomic under
# the GIL, so the fork handler needs no lock that a forking thread might hold).
_held_lock_fds: set[int] = set()


def _close_inherited_locks() -> None:
    # A flock belongs to the open file description, which fork() shares: unless the
    # child closes its copies, the parent's lock stays held until the child exits.
    for fd in list(_held_lock_fds):
        with contextlib.suppress(OSError):
            os.close(fd)
    _held_lock_fds.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited_locks)


class FsPersistence(SessionPersistence):
    """Sessions as ``<directory>/<id>.json``; see the module docstring for the guarantees."""

    scheme = "file"

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        create: bool = True,
        max_workers: int = 16,
        file_mode: int = 0o600,
    ) -> None:
        super().__init__(max_bytes=max_bytes, max_workers=max_workers)
        if not isinstance(file_mode, int) or not 0 <= file_mode <= 0o777:
            raise ValueError(f"file_mode must be permission bits 0o000..0o777, not {file_mode!r}")
        #: Mode of new session and lock files (the process umask still applies).
        self.file_mode = file_mode
        self.directory = Path(directory)
        self._create = create
        self._swept = False
        self._sweep_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: StoreUrl, **options: Any) -> FsPersistence:
        """``file:///absolute/dir`` or ``file://relative/dir``; ``?mode=0640`` is ``file_mode``."""
        directory = url.netloc + url.path if url.netloc else url.path
        if not directory or set(url.query) - {"mode"}:
            raise InvalidStoreUrl(f"file:// needs a directory and takes only ?mode=: {url.raw!r}")
        if "mode" in url.query:
            try:
                options = {"file_mode": int(url.query["mode"], 8), **options}
                return cls(directory, **options)
            except ValueError as exc:
                raise InvalidStoreUrl(f"mode must be octal permission bits: {url.raw!r}") from exc
        return cls(directory, **options)

    def __repr__(self) -> str:
        return f"FsPersistence({str(self.directory)!r})"

    # ----------------------------------------------------------- primitives

    async def _read(self, session_id: str) -> StoredObject | None:
        return await self._run_sync(self._read_sync, session_id)

    async def _write(self, session_id: str, body: bytes, expected: ExpectedVersion) -> str:
        return await self._run_sync(
            self._write_sync, session_id, body, expected, begins_itself=True
        )

    async def _remove(self, session_id: str, expected: RemoveExpected) -> None:
        await self._run_sync(self._remove_sync, session_id, expected, begins_itself=True)

    def _after_fork(self) -> None:
        super()._after_fork()
        self._sweep_lock = threading.Lock()

    async def _list(self, prefix: str) -> AsyncIterator[str]:
        async for name in self._stream(self._iter_names(prefix)):
            yield name

    async def _stream(self, items: Generator[T, None, None]) -> AsyncIterator[T]:
        """Yield a blocking generator's items, a batch per worker hop."""
        try:
            while True:
                batch = await self._run_sync(_take, items, _LIST_BATCH)
                for item in batch:
                    yield item
                if len(batch) < _LIST_BATCH:
                    return
        finally:
            items.close()  # closes directory handles if the caller stops early

    # ------------------------------------------------------------ sync work

    def _path(self, session_id: str) -> Path:
        return self.directory / f"{session_id}{_SUFFIX}"

    def _read_sync(self, session_id: str) -> StoredObject | None:
        with self._translate_errors():
            try:
                with open(self._path(session_id), "rb") as file:
                    size = os.fstat(file.fileno()).st_size
                    if size > self.max_bytes:
                        raise SnapshotTooLarge(session_id, size, self.max_bytes)
                    body = file.read()
            except (FileNotFoundError, NotADirectoryError):
                return None
        return StoredObject(body, version_of(body))

    def _current_version(self, session_id: str) -> str | None:
        """The stored version (a hash of the whole file: any foreign change shows)."""
        try:
            with open(self._path(session_id), "rb") as file:
                return version_of(file.read())
        except FileNotFoundError:
            return None

    def _write_sync(self, session_id: str, body: bytes, expected: ExpectedVersion) -> str:
        with self._translate_errors():
            self._ensure_directory()
            self._sweep_once()
            with self._locked(session_id):
                point_of_no_return()  # cancelled while waiting for the lock: write nothing
                if expected is not ANY_VERSION:
                    check_expected(session_id, self._current_version(session_id), expected)
                path = self._path(session_id)
                if path.parent != self.directory:  # a document under a hierarchical key
                    _make_directories(path.parent)
                tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}{_TMP_SUFFIX}"
                try:
                    _write_durably(tmp, body, self.file_mode)
                    os.replace(tmp, path)
                except BaseException:
                    with contextlib.suppress(FileNotFoundError):
                        tmp.unlink()
                    raise
                _fsync_directory(path.parent)
        return version_of(body)

    def _remove_sync(self, session_id: str, expected: RemoveExpected) -> None:
        with self._translate_errors():
            if not self.directory.is_dir():
                point_of_no_return()
                check_expected(session_id, None, expected)
                return
            with self._locked(session_id):
                point_of_no_return()
                if expected is not ANY_VERSION:
                    check_expected(session_id, self._current_version(session_id), expected)
                path = self._path(session_id)
                try:
                    path.unlink()
                except (FileNotFoundError, NotADirectoryError):
                    return
                _fsync_directory(path.parent)

    def _iter_names(self, prefix: str) -> Generator[str, None, None]:
        try:
            entries = os.scandir(self.directory)
        except (FileNotFoundError, NotADirectoryError):
            return
        with entries:
            for entry in entries:
                name = entry.name
                if name.endswith(_SUFFIX) and name.startswith(prefix) and entry.is_file():
                    yield name[: -len(_SUFFIX)]

    async def _list_tree(self, prefix: str) -> AsyncIterator[ListedObject]:
        async for listed in self._stream(self._walk(prefix)):
            yield listed

    def _walk(self, prefix: str) -> Generator[ListedObject, None, None]:
        """Every ``*.json`` file below the directory whose name starts with ``prefix``."""
        # Start at the deepest directory the prefix names, not at the root.
        start_dir, _, _ = prefix.rpartition("/")
        stack = [start_dir]
        while stack:
            relative = stack.pop()
            try:
                entries = os.scandir(self.directory / relative if relative else self.directory)
            except (FileNotFoundError, NotADirectoryError):
                continue
            with entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue  # temp files, the lock directory, hidden files
                    name = f"{relative}/{entry.name}" if relative else entry.name
                    if entry.is_dir(follow_symlinks=False):
                        if name.startswith(prefix) or prefix.startswith(name + "/"):
                            stack.append(name)
                    elif name.endswith(_SUFFIX) and name.startswith(prefix):
                        yield ListedObject(name[: -len(_SUFFIX)], entry.stat().st_mtime)

    # --------------------------------------------------------------- sweep

    def sweep(self) -> int:
        """Delete temp files left by crashed writers; return how many were removed.

        Safe while other processes write: a temp file is only removed under the
        lock its writer would hold, so a live writer's file is never touched.
        """
        by_session: dict[str, list[str]] = defaultdict(list)
        for relative, names in self._temp_files():
            for name in names:
                owner = _temp_owner(name)
                if owner is not None:
                    key = f"{relative}/{owner}" if relative else owner
                    by_session[key].append(f"{relative}/{name}" if relative else name)
        removed = 0
        for session_id, names in by_session.items():
            with self._locked(session_id):
                for name in names:
                    try:
                        (self.directory / name).unlink()
                    except FileNotFoundError:
                        continue
                    except OSError as exc:  # not ours to remove (a directory, say): skip it
                        _log.warning("sessionstore: sweep left %s in place: %s", name, exc)
                        continue
                    removed += 1
        return removed

    def _temp_files(self) -> Iterator[tuple[str, list[str]]]:
        """(directory relative to the store, dot-file names in it), for every directory."""
        stack = [""]
        while stack:
            relative = stack.pop()
            try:
                entries = os.scandir(self.directory / relative if relative else self.directory)
            except (FileNotFoundError, NotADirectoryError):
                continue
            names: list[str] = []
            with entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        names.append(entry.name)
                    elif entry.is_dir(follow_symlinks=False):
                        stack.append(f"{relative}/{entry.name}" if relative else entry.name)
            yield relative, names

    def _sweep_once(self) -> None:
        if self._swept:
            return
        with self._sweep_lock:
            if not self._swept:
                try:
                    self.sweep()
                except OSError as exc:  # housekeeping must never fail a save
                    _log.warning("sessionstore: sweep of %s failed: %s", self.directory, exc)
                self._swept = True

    # -------------------------------------------------------------- helpers

    def _ensure_directory(self) -> None:
        if self.directory.is_dir():
            return
        if not self._create:
            raise StoreNotFound(f"directory {str(self.directory)!r} does not exist")
        _make_directories(self.directory)

    @contextlib.contextmanager
    def _locked(self, session_id: str) -> Iterator[None]:
        lock_dir = self.directory / _LOCK_DIR
        stripe = zlib.crc32(session_id.encode()) % _STRIPES
        path = lock_dir / f"{stripe:02x}.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, self.file_mode)
        except FileNotFoundError:
            lock_dir.mkdir(exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, self.file_mode)
        _held_lock_fds.add(fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            _held_lock_fds.discard(fd)
            os.close(fd)  # closing the descriptor releases the flock

    @contextlib.contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except PermissionError as exc:
            raise AccessDenied(f"{self.directory}: {exc.strerror} ({exc.filename})") from exc
        except OSError as exc:
            raise BackendError(f"{self.directory}: {exc}") from exc


def _write_durably(path: Path, body: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        view = memoryview(body)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_directories(directory: Path) -> None:
    """``mkdir -p``, fsyncing the parent of every directory it creates."""
    missing: list[Path] = []
    path = directory.absolute()
    while not path.is_dir() and path != path.parent:
        missing.append(path)
        path = path.parent
    for created in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it first
            created.mkdir()
        # The new directory's name lives in its parent: make that entry durable too.
        _fsync_directory(created.parent)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as exc:  # some filesystems cannot fsync a directory; nothing to make durable
        if exc.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)


def _temp_owner(name: str) -> str | None:
    """The session id a temp file name belongs to, or None if it is not one of ours."""
    if not (name.startswith(".") and name.endswith(_TMP_SUFFIX)):
        return None
    stem = name[1 : -len(_TMP_SUFFIX)]  # <id>.json.<random>
    session_id, sep, _ = stem.rpartition(_SUFFIX + ".")
    return session_id if sep and session_id else None


def _take(names: Iterator[T], count: int) -> list[T]:
    batch: list[T] = []
    for name in names:
        batch.append(name)
        if len(batch) == count:
            break
    return batch
