"""The ``sessionstore`` command: a guided demo and operator commands.

::

    sessionstore demo [--url URL]          walk through crash, resume, conflict and handoff
    sessionstore demo --live [--url URL]   the same for a Gemini Live session (fake server)
    sessionstore ls URL [--prefix P]       list session ids
    sessionstore show URL ID               print one snapshot (with its version) as JSON
    sessionstore rm URL ID [--version V]   delete one session (conditionally with --version)
    sessionstore cp SRC_URL DST_URL        copy every session between two stores

Exit status: 0 on success, 1 when an operation failed (missing session, conflict,
backend error), 2 for bad usage (unknown command, invalid URL or id).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from sessionstore.errors import (
    InvalidSessionId,
    InvalidStoreUrl,
    MissingDependency,
    SessionStoreError,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_DEMO_URL = "file://.sessionstore-demo"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sessionstore",
        description="Persist live agent sessions with compare-and-swap on memory, files, S3, GCS.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser("demo", help="walk through save, crash, resume, conflict, handoff")
    demo.add_argument(
        "--url", default=DEFAULT_DEMO_URL, help=f"store URL (default: {DEFAULT_DEMO_URL})"
    )
    demo.add_argument("--live", action="store_true", help="a Gemini Live session (fake server)")

    ls = commands.add_parser("ls", help="list session ids in a store")
    ls.add_argument("url")
    ls.add_argument("--prefix", default="", help="only ids starting with this")

    show = commands.add_parser("show", help="print a snapshot and its version as JSON")
    show.add_argument("url")
    show.add_argument("session_id")

    rm = commands.add_parser("rm", help="delete a session")
    rm.add_argument("url")
    rm.add_argument("session_id")
    rm.add_argument("--version", help="delete only if this version is stored")

    cp = commands.add_parser("cp", help="copy every session from one store to another")
    cp.add_argument("src_url")
    cp.add_argument("dst_url")
    cp.add_argument(
        "--overwrite", action="store_true", help="replace sessions that exist in the destination"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from sessionstore.cli import commands, demo

    if args.command == "demo" and args.live:
        from sessionstore.cli import demo_live as demo  # type: ignore[no-redef]
    handlers = {
        "demo": demo.run,
        "ls": commands.ls,
        "show": commands.show,
        "rm": commands.rm,
        "cp": commands.cp,
    }
    try:
        return handlers[args.command](args)
    except (InvalidStoreUrl, InvalidSessionId, MissingDependency) as exc:
        print(f"sessionstore: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SessionStoreError as exc:
        print(f"sessionstore: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
