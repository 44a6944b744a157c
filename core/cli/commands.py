"""Operator commands: ls, show, rm, cp."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from sessionstore.cli import EXIT_FAILED, EXIT_OK
from sessionstore.contract import ANY_VERSION
from sessionstore.errors import ConflictError, CorruptSnapshot, SnapshotTooLarge
from sessionstore.registry import open_store

if TYPE_CHECKING:
    import argparse

    from sessionstore.contract import ExpectedVersion


def ls(args: argparse.Namespace) -> int:
    with open_store(args.url).blocking as store:
        for session_id in store.list_sessions(args.prefix):
            print(session_id)
    return EXIT_OK


def show(args: argparse.Namespace) -> int:
    with open_store(args.url).blocking as store:
        loaded = store.load_versioned(args.session_id)
    if loaded is None:
        print(f"sessionstore: no session {args.session_id!r} in {args.url}", file=sys.stderr)
        return EXIT_FAILED
    document = {"session_id": args.session_id, "version": loaded.version}
    document["snapshot"] = loaded.snapshot.model_dump(mode="json")
    print(json.dumps(document, indent=2, ensure_ascii=False))
    return EXIT_OK


def rm(args: argparse.Namespace) -> int:
    expected: ExpectedVersion = ANY_VERSION if args.version is None else args.version
    with open_store(args.url).blocking as store:
        store.delete(args.session_id, expected_version=expected)
    return EXIT_OK


def cp(args: argparse.Namespace) -> int:
    """Copy snapshots (content preserved; leases are not carried over).

    Existing destination sessions are kept unless ``--overwrite``: the copy is
    create-only, so it never clobbers a session another writer created meanwhile.
    """
    copied = skipped = failed = 0
    with open_store(args.src_url).blocking as src, open_store(args.dst_url).blocking as dst:
        for session_id in src.list_sessions():
            try:
                snapshot = src.load(session_id)
            except (CorruptSnapshot, SnapshotTooLarge) as exc:
                print(f"sessionstore: skipped {session_id}: {exc}", file=sys.stderr)
                failed += 1
                continue
            if snapshot is None:  # deleted while we were copying
                continue
            expected: ExpectedVersion = ANY_VERSION if args.overwrite else None
            try:
                dst.save(session_id, snapshot, expected_version=expected)
            except ConflictError:
                skipped += 1
                continue
            copied += 1
    print(f"copied {copied}, skipped {skipped} existing, failed {failed}")
    return EXIT_FAILED if failed else EXIT_OK
