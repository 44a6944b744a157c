"""``sessionstore cp``: copy every session between two stores, concurrently.

Each object the source lists ends in exactly one outcome, and every object that
is not copied is named with its reason:

* ``copied`` (``would copy`` with ``--dry-run``);
* ``exists``: the destination already has the session. The copy is create-only,
  so it never clobbers a session another writer created meanwhile; ``--overwrite``
  replaces it, ``--skip-existing`` keeps it without counting it as a failure;
* ``failed``: the name breaks the session-id rule (``--encode-ids`` migrates it
  under :func:`sessionstore.ids.encode_id`), the body is corrupt or too large,
  it vanished while copying, or the destination refused the write.

Exit status 0 only if nothing failed and nothing was left behind as existing
(unless ``--skip-existing``). Snapshots are copied, leases are not: a copied
session starts free at epoch 0.

With ``--encode-ids`` *every* name is stored as ``encode_id(name)``, not only the
invalid ones: a valid name that contains ``=`` is escaped too, so two source
names can never land on one destination id and ``decode_id`` always gives the
source name back.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sessionstore import codec
from sessionstore.cli import EXIT_FAILED, EXIT_OK
from sessionstore.cli.commands import (
    check_listable,
    emit_json,
    error,
    invalid_id_reason,
    raw_names,
    run,
)
from sessionstore.contract import ANY_VERSION
from sessionstore.errors import ConflictError, InvalidStoreUrl, SessionStoreError, SnapshotTooLarge
from sessionstore.ids import encode_id, is_valid_session_id
from sessionstore.registry import open_store

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterator

    from sessionstore.contract import ExpectedVersion, SessionPersistence
    from sessionstore.model import SessionSnapshot


@dataclass(frozen=True)
class Outcome:
    source: str
    destination: str | None
    status: str  # "copied", "exists" or "failed"
    reason: str | None = None


def cp(args: argparse.Namespace) -> int:
    return run(_cp(args))


async def _cp(args: argparse.Namespace) -> int:
    if "/" in args.prefix:
        raise InvalidStoreUrl(f"--prefix may not contain '/': {args.prefix!r}")
    async with open_store(args.src_url) as src, open_store(args.dst_url) as dst:
        check_listable(src, args.src_url)
        names = sorted(await raw_names(src, args.prefix))
        with _progress(len(names), enabled=not args.json, dry_run=args.dry_run) as advance:
            outcomes = await _copy_all(src, dst, names, args, advance)
    return _report(outcomes, args)


async def _copy_all(
    src: SessionPersistence,
    dst: SessionPersistence,
    names: list[str],
    args: argparse.Namespace,
    advance: Callable[[], None],
) -> list[Outcome]:
    """Copy with at most ``args.jobs`` sessions in flight; outcomes in the order of ``names``."""
    outcomes: dict[str, Outcome] = {}
    pending: Iterator[str] = iter(names)

    async def worker() -> None:
        for name in pending:  # shared iterator: each name is taken by exactly one worker
            outcomes[name] = await _copy_one(src, dst, name, args)
            advance()

    await asyncio.gather(*(worker() for _ in range(min(args.jobs, len(names)) or 1)))
    return [outcomes[name] for name in names]


async def _copy_one(
    src: SessionPersistence, dst: SessionPersistence, name: str, args: argparse.Namespace
) -> Outcome:
    valid = is_valid_session_id(name)
    if args.encode_ids:
        try:
            target = encode_id(name)
        except SessionStoreError as exc:
            return Outcome(name, None, "failed", str(exc))
    elif valid:
        target = name
    else:
        hint = f"; --encode-ids stores it as {_encoded_hint(name)}"
        return Outcome(name, None, "failed", invalid_id_reason(name) + hint)
    try:
        snapshot = await _read_source(src, name)
        if snapshot is None:
            return Outcome(name, target, "failed", "gone from the source while copying")
        if args.dry_run:
            if await dst._read(target) is not None and not args.overwrite:
                return Outcome(name, target, "exists", "exists in the destination")
            return Outcome(name, target, "copied")
        expected: ExpectedVersion = ANY_VERSION if args.overwrite else None
        try:
            await dst.save(target, snapshot, expected_version=expected)
        except ConflictError:
            return Outcome(name, target, "exists", "exists in the destination")
    except SessionStoreError as exc:
        return Outcome(name, target, "failed", f"{type(exc).__name__}: {exc}")
    return Outcome(name, target, "copied")


async def _read_source(src: SessionPersistence, name: str) -> SessionSnapshot | None:
    """The snapshot stored under ``name``, also when ``name`` breaks the id rule."""
    if is_valid_session_id(name):
        return await src.load(name)
    # A name the store listed itself (so it addresses one of its objects): read it raw.
    stored = await src._read(name)
    if stored is None:
        return None
    if len(stored.body) > src.max_bytes:
        raise SnapshotTooLarge(name, len(stored.body), src.max_bytes)
    return codec.decode(name, stored.body).snapshot


def _encoded_hint(name: str) -> str:
    try:
        return repr(encode_id(name))
    except SessionStoreError:
        return "nothing (its encoding is too long)"


def _report(outcomes: list[Outcome], args: argparse.Namespace) -> int:
    copied = [o for o in outcomes if o.status == "copied"]
    existing = [o for o in outcomes if o.status == "exists"]
    failed = [o for o in outcomes if o.status == "failed"]
    ok = not failed and (args.skip_existing or not existing)
    if args.json:
        document: dict[str, Any] = {
            "dry_run": args.dry_run,
            "ok": ok,
            "copied": len(copied),
            "existing": len(existing),
            "failed": len(failed),
            "sessions": [asdict(o) for o in outcomes],
        }
        emit_json(document)
        return EXIT_OK if ok else EXIT_FAILED
    for outcome in outcomes:
        renamed = outcome.destination not in (None, outcome.source)
        arrow = f" -> {outcome.destination}" if renamed else ""
        if outcome.status == "copied" and args.dry_run:
            print(f"would copy {outcome.source}{arrow}")
        elif outcome.status == "exists":
            kept = "kept" if args.skip_existing else "not copied"
            error(f"{kept}: {outcome.source!r}{arrow}: {outcome.reason}")
        elif outcome.status == "failed":
            error(f"not copied: {outcome.source!r}: {outcome.reason}")
    verb = "would copy" if args.dry_run else "copied"
    print(f"{verb} {len(copied)}, skipped {len(existing)} existing, failed {len(failed)}")
    if existing and not args.skip_existing and not args.overwrite:
        error(
            "existing sessions were not copied: add --overwrite to replace them, "
            "or --skip-existing to keep them"
        )
    return EXIT_OK if ok else EXIT_FAILED


class _NoProgress:
    def __enter__(self) -> Callable[[], None]:
        return lambda: None

    def __exit__(self, *exc: object) -> None:
        return None


class _RichProgress:
    """A progress bar on stderr (rich), shown only on a terminal."""

    def __init__(self, total: int, description: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self._task = self._progress.add_task(description, total=total)

    def __enter__(self) -> Callable[[], None]:
        self._progress.start()
        return lambda: self._progress.advance(self._task)

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()


def _progress(total: int, *, enabled: bool, dry_run: bool) -> _NoProgress | _RichProgress:
    if not (enabled and total and sys.stderr.isatty()):
        return _NoProgress()
    try:
        return _RichProgress(total, "checking" if dry_run else "copying")
    except ImportError:  # the cli extra is not installed: no bar, same results
        return _NoProgress()
