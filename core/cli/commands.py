"""Operator commands: ls, show, rm, lease, history, restore (cp and check have modules)."""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol, cast

from sessionstore.cli import EXIT_FAILED, EXIT_OK
from sessionstore.contract import ANY_VERSION, Ownership
from sessionstore.errors import InvalidSessionId, InvalidStoreUrl, StoreNotFound
from sessionstore.filesystem import FsPersistence
from sessionstore.ids import is_valid_session_id, validate_prefix, validate_session_id
from sessionstore.registry import open_store

if TYPE_CHECKING:
    import argparse
    from collections.abc import Coroutine, Sequence

    from sessionstore.codec import StoreMeta
    from sessionstore.contract import ExpectedVersion, SessionPersistence


# ------------------------------------------------------------------ helpers


def run(coro: Coroutine[Any, Any, int]) -> int:
    return asyncio.run(coro)


def show_version(version: str) -> str:
    """A version exactly as stored, quoted for the shell when needed (S3 ETags carry quotes),
    so it can be pasted back into ``--version``."""
    return shlex.quote(version)


def emit_json(document: object) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False))


def error(message: str) -> None:
    print(f"sessionstore: {message}", file=sys.stderr)


def confirm(question: str, assume_yes: bool) -> bool:
    """Ask on stderr, read the answer from stdin; anything but y/yes (or end of input) is no."""
    if assume_yes:
        return True
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    return answer.strip().lower() in {"y", "yes"}


def timestamp(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat(timespec="seconds")


def lease_document(meta: StoreMeta | None) -> dict[str, Any]:
    if meta is None:
        return {"owner": None, "epoch": 0, "held": False, "written_at": None}
    return {
        "owner": meta.owner,
        "epoch": meta.epoch,
        "held": meta.held,
        "written_at": timestamp(meta.written_at),
    }


def describe_lease(meta: StoreMeta | None) -> str:
    lease = lease_document(meta)
    if lease["owner"] is None:
        return f"not held (never leased, epoch {lease['epoch']})"
    state = "HELD by" if lease["held"] else "not held; last owner"
    written = f", last written {lease['written_at']}" if lease["written_at"] else ""
    return f"{state} {lease['owner']!r}, epoch {lease['epoch']}{written}"


def check_listable(store: SessionPersistence, url: str) -> None:
    """A local store must be an existing directory: listing nothing there is not success."""
    if isinstance(store, FsPersistence):
        directory = store.directory
        if not directory.exists():
            raise StoreNotFound(f"{url}: directory {str(directory)!r} does not exist")
        if not directory.is_dir():
            raise StoreNotFound(f"{url}: {str(directory)!r} is not a directory")


async def raw_names(store: SessionPersistence, prefix: str) -> list[str]:
    """Every object name the store would list, including names that break the id rule."""
    return [name async for name in store._list(prefix) if name.startswith(prefix)]


def invalid_id_reason(name: str) -> str:
    """Why ``name`` is not a valid session id ("" if it is)."""
    try:
        validate_session_id(name)
    except InvalidSessionId as exc:
        return str(exc)
    return ""


# ------------------------------------------------------------------ ls, show, rm


def ls(args: argparse.Namespace) -> int:
    return run(_ls(args))


async def _ls(args: argparse.Namespace) -> int:
    validate_prefix(args.prefix)
    async with open_store(args.url) as store:
        check_listable(store, args.url)
        names = sorted(await raw_names(store, args.prefix))
    sessions = [name for name in names if is_valid_session_id(name)]
    invalid = [{"name": n, "reason": invalid_id_reason(n)} for n in names if n not in sessions]
    if args.json:
        emit_json({"url": args.url, "sessions": sessions, "invalid_ids": invalid})
    else:
        for session_id in sessions:
            print(session_id)
        for item in invalid:
            error(
                f"not a valid session id, not listed: {item['name']!r} ({item['reason']}); "
                "`sessionstore cp --encode-ids` migrates such sessions"
            )
    return EXIT_OK


def show(args: argparse.Namespace) -> int:
    return run(_show(args))


async def _show(args: argparse.Namespace) -> int:
    async with open_store(args.url) as store:
        entry = await store._load_entry(args.session_id)
    if entry is None:
        error(f"no session {args.session_id!r} in {args.url}")
        return EXIT_FAILED
    # A claim (acquired, never saved) has no snapshot: shown as null.
    snapshot = None if entry.value is None else entry.value.model_dump(mode="json")
    if args.json:
        emit_json(
            {
                "session_id": args.session_id,
                "version": entry.version,
                "lease": lease_document(entry.meta),
                "snapshot": snapshot,
            }
        )
        return EXIT_OK
    print(f"session   {args.session_id}")
    print(f"version   {show_version(entry.version)}")
    print(f"lease     {describe_lease(entry.meta)}")
    if snapshot is None:
        print("snapshot  none yet (a claim: acquired, not saved; loads as absent)")
        return EXIT_OK
    print("snapshot")
    print(json.dumps(snapshot, indent=2, ensure_ascii=False))
    return EXIT_OK


def rm(args: argparse.Namespace) -> int:
    return run(_rm(args))


async def _rm(args: argparse.Namespace) -> int:
    expected: ExpectedVersion = ANY_VERSION if args.version is None else args.version
    async with open_store(args.url) as store:
        await store.delete(args.session_id, expected_version=expected)
    print(f"deleted {args.session_id}")
    return EXIT_OK


# ------------------------------------------------------------------ leases


def lease(args: argparse.Namespace) -> int:
    return run(_lease(args))


async def _lease(args: argparse.Namespace) -> int:
    breaking = args.lease_action == "break"
    async with open_store(args.url) as store:
        entry = await store._load_entry(args.session_id)
        if entry is None:
            error(f"no session {args.session_id!r} in {args.url}")
            return EXIT_FAILED
        meta = entry.meta
        if meta is None or not meta.held:
            print(f"{args.session_id}: {describe_lease(meta)}; nothing to do")
            return EXIT_OK
        holder = meta.owner or ""
        if not breaking and args.owner is not None and args.owner != holder:
            error(f"{args.session_id} is held by {holder!r}, not {args.owner!r}; nothing changed")
            return EXIT_FAILED
        what = "Break" if breaking else "Release"
        question = (
            f"{what} the lease of {holder!r} (epoch {meta.epoch}) on {args.session_id!r}? "
            f"Its next write will be refused (FencedError)."
        )
        if not confirm(question, args.yes):
            error("not confirmed; nothing changed")
            return EXIT_FAILED
        # Breaking takes over like any other region would (force=True); releasing acts as
        # the holder itself, so it fails with SessionBusy if someone else took over meanwhile.
        owner = args.operator if breaking else holder
        taken = await store.acquire(args.session_id, owner, force=breaking)
        await taken.release()
    verb = "broke" if breaking else "released"
    print(
        f"{verb} the lease of {holder!r} on {args.session_id}: free at epoch {taken.epoch}, "
        f"version {show_version(taken.version or '')}"
    )
    return EXIT_OK


# ------------------------------------------------------------------ history, restore


class PastVersion(Protocol):
    """What a versioned store's ``history`` yields (see the adapters' ``_history`` modules)."""

    @property
    def version_id(self) -> str: ...
    @property
    def version(self) -> str | None: ...
    @property
    def updated(self) -> datetime | None: ...
    @property
    def size(self) -> int | None: ...
    @property
    def is_current(self) -> bool: ...
    @property
    def deleted(self) -> bool: ...


class VersionedStore(Protocol):
    async def history(self, session_id: str) -> Sequence[PastVersion]: ...
    async def read_version(self, session_id: str, version_id: str) -> bytes: ...


def versioned(store: SessionPersistence, url: str) -> VersionedStore:
    if not (hasattr(store, "history") and hasattr(store, "read_version")):
        raise InvalidStoreUrl(
            f"{url}: history and restore need a versioned bucket (s3:// with versioning, "
            f"gs:// with object versioning); {type(store).__name__} keeps no past versions"
        )
    return cast("VersionedStore", store)  # checked structurally above


def history(args: argparse.Namespace) -> int:
    return run(_history(args))


async def _history(args: argparse.Namespace) -> int:
    session_id = validate_session_id(args.session_id)
    async with open_store(args.url) as store:
        versions = await versioned(store, args.url).history(session_id)
    rows = [
        {
            "version_id": v.version_id,
            "version": v.version,
            "updated": v.updated.isoformat() if v.updated else None,
            "size": v.size,
            "current": v.is_current,
            "deleted": v.deleted,
        }
        for v in versions
    ]
    if args.json:
        emit_json({"session_id": session_id, "versions": rows})
        return EXIT_OK if rows else EXIT_FAILED
    if not rows:
        error(f"no versions of {session_id!r} in {args.url}")
        return EXIT_FAILED
    for row in rows:
        flags = " ".join(
            flag for flag, on in (("current", row["current"]), ("deleted", row["deleted"])) if on
        )
        parts = [
            f"version_id {show_version(str(row['version_id']))}",
            f"updated {row['updated'] or '-'}",
            f"size {row['size'] if row['size'] is not None else '-'}",
        ]
        if row["version"] and row["version"] != row["version_id"]:
            parts.insert(1, f"version {show_version(str(row['version']))}")
        print("  ".join(parts) + (f"  [{flags}]" if flags else ""))
    if all(row["version_id"] == "null" for row in rows):
        error("the bucket has no versioning enabled: only the current version is kept")
    return EXIT_OK


def restore(args: argparse.Namespace) -> int:
    return run(_restore(args))


async def _restore(args: argparse.Namespace) -> int:
    from sessionstore import codec

    session_id = validate_session_id(args.session_id)
    async with open_store(args.url) as store:
        body = await versioned(store, args.url).read_version(session_id, args.version_id)
        if len(body) > store.max_bytes:
            from sessionstore.errors import SnapshotTooLarge

            raise SnapshotTooLarge(session_id, len(body), store.max_bytes)
        old = codec.decode(session_id, body).value
        if old is None:
            error(f"version {args.version_id} of {session_id!r} is a claim: it has no snapshot")
            return EXIT_FAILED
        current = await store._load_entry(session_id)
        where = f"turn {old.turn_count}, phase {old.phase!r}"
        question = f"Restore {session_id!r} to version {args.version_id} ({where})?"
        if current is not None:
            question += f" It replaces the current version {show_version(current.version)}."
        if not confirm(question, args.yes):
            error("not confirmed; nothing changed")
            return EXIT_FAILED
        # A normal conditional save: a fresh write id, so the restored object has a new
        # version (ETag/generation) and a stale writer holding the old one stays refused.
        # Lease fields of the current body are kept, as `update` keeps them.
        expected: ExpectedVersion = current.version if current else None
        meta = current.meta if current else None
        keep = (
            Ownership(meta.owner, meta.epoch, meta.held, meta.written_at) if meta else Ownership()
        )
        payload = codec.serialize(session_id, old)
        keys = current.keys if current else ()
        version = await store._put(session_id, payload, expected, keep, keys=keys)
    print(f"restored {session_id} from {args.version_id}: new version {show_version(version)}")
    return EXIT_OK
