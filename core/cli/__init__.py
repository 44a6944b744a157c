# PYTHON_ARGCOMPLETE_OK
"""The ``sessionstore`` command: a guided demo and operator commands.

::

    sessionstore demo [--url URL]              walk through crash, resume, conflict and handoff
    sessionstore demo --live [--url URL]       the same for a Gemini Live session (fake server)
    sessionstore ls URL [--prefix P] [--json]  list session ids
    sessionstore show URL ID [--json]          one snapshot, its version and its lease
    sessionstore rm URL ID [--version V]       delete one session (conditionally with --version)
    sessionstore cp SRC DST [...]              copy every session between two stores
    sessionstore lease release|break URL ID    free a session a dead holder left leased
    sessionstore history URL ID                past versions of a session (versioned buckets)
    sessionstore restore URL ID VERSION_ID     write a past version back as a new version
    sessionstore check URL                     probe whether a store really enforces CAS

Also ``python -m sessionstore``. Exit status: 0 on success, 1 when an operation
failed (missing session, conflict, backend error, an object not copied, an unsafe
store), 2 for bad usage (unknown command, invalid URL or id), 130 on Ctrl-C.

The CLI's extra (``pip install 'sessionstore[cli]'``) adds progress bars (rich) and
shell completion (argcomplete); without it every command still works.
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
    from collections.abc import Callable, Sequence

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_DEMO_URL = "file://.sessionstore-demo"
DEFAULT_JOBS = 16

_URL_HELP = "store URL: memory://NAME, file:///dir, s3://bucket/prefix, gs://bucket/prefix"
_JSON_HELP = "print one JSON document on stdout instead of text (for scripts)"
_YES_HELP = "do not ask for confirmation"


def build_parser() -> argparse.ArgumentParser:  # noqa: PLR0915  # one statement per option
    from sessionstore import __version__

    parser = argparse.ArgumentParser(
        prog="sessionstore",
        description="Persist live agent sessions with compare-and-swap on memory, files, S3, GCS.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}", help="print the version"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser("demo", help="walk through save, crash, resume, conflict, handoff")
    demo.add_argument(
        "--url", default=DEFAULT_DEMO_URL, help=f"store URL (default: {DEFAULT_DEMO_URL})"
    )
    demo.add_argument("--live", action="store_true", help="a Gemini Live session (fake server)")

    ls = commands.add_parser("ls", help="list session ids in a store")
    ls.add_argument("url", help=_URL_HELP)
    ls.add_argument("--prefix", default="", help="only ids starting with this")
    ls.add_argument("--json", action="store_true", help=_JSON_HELP)

    show = commands.add_parser("show", help="print a snapshot, its version and its lease")
    show.add_argument("url", help=_URL_HELP)
    show.add_argument("session_id", help="the session id")
    show.add_argument("--json", action="store_true", help=_JSON_HELP)

    rm = commands.add_parser("rm", help="delete a session")
    rm.add_argument("url", help=_URL_HELP)
    rm.add_argument("session_id", help="the session id")
    rm.add_argument("--version", help="delete only if this version is stored (as `show` prints it)")

    cp = commands.add_parser(
        "cp",
        help="copy every session from one store to another",
        description="Copy every session (create-only unless --overwrite). Objects that are "
        "not copied are named with the reason, and the exit status is then 1.",
    )
    cp.add_argument("src_url", help="the store to copy from")
    cp.add_argument("dst_url", help="the store to copy to")
    existing = cp.add_mutually_exclusive_group()
    existing.add_argument(
        "--overwrite", action="store_true", help="replace sessions that exist in the destination"
    )
    existing.add_argument(
        "--skip-existing",
        action="store_true",
        help="keep sessions that exist in the destination and do not count them as failures",
    )
    cp.add_argument(
        "--encode-ids",
        action="store_true",
        help="store every session under sessionstore.ids.encode_id(name), so names that "
        "break the id rule ('a b', 'sesión', '-x') are migrated; decode_id gives the name back",
    )
    cp.add_argument(
        "--dry-run", action="store_true", help="read and report what would be copied; write nothing"
    )
    cp.add_argument("--prefix", default="", help="only sessions whose names start with this")
    cp.add_argument(
        "--jobs",
        type=_positive_int,
        default=DEFAULT_JOBS,
        help=f"sessions copied at once (default: {DEFAULT_JOBS})",
    )
    cp.add_argument("--json", action="store_true", help=_JSON_HELP)

    lease = commands.add_parser("lease", help="release or break a session's lease")
    actions = lease.add_subparsers(dest="lease_action", metavar="ACTION", required=True)
    release = actions.add_parser(
        "release",
        help="free a session held by an owner that is gone (that owner's writes are fenced)",
    )
    release.add_argument("url", help=_URL_HELP)
    release.add_argument("session_id", help="the session id")
    release.add_argument(
        "--owner", help="release only if this owner holds it (default: the current holder)"
    )
    release.add_argument("--yes", "-y", action="store_true", help=_YES_HELP)
    brk = actions.add_parser(
        "break",
        help="take the lease from whoever holds it (force, fencing the holder) and free it",
    )
    brk.add_argument("url", help=_URL_HELP)
    brk.add_argument("session_id", help="the session id")
    brk.add_argument(
        "--as",
        dest="operator",
        default="sessionstore-cli",
        help="owner name recorded for the takeover (default: sessionstore-cli)",
    )
    brk.add_argument("--yes", "-y", action="store_true", help=_YES_HELP)

    history = commands.add_parser(
        "history", help="list a session's past versions (S3 versioning, GCS object generations)"
    )
    history.add_argument("url", help="s3://bucket/prefix or gs://bucket/prefix")
    history.add_argument("session_id", help="the session id")
    history.add_argument("--json", action="store_true", help=_JSON_HELP)

    restore = commands.add_parser(
        "restore",
        help="write a past version back as a new version (a fresh write id: nothing stale revives)",
    )
    restore.add_argument("url", help="s3://bucket/prefix or gs://bucket/prefix")
    restore.add_argument("session_id", help="the session id")
    restore.add_argument("version_id", help="a VERSION_ID as `history` prints it")
    restore.add_argument("--yes", "-y", action="store_true", help=_YES_HELP)

    check = commands.add_parser(
        "check",
        help="probe a store on a scratch key: does it enforce create-only, If-Match and "
        "conditional deletes, and verify checksums?",
    )
    check.add_argument("url", help=_URL_HELP)
    check.add_argument("--json", action="store_true", help=_JSON_HELP)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    _enable_completion(parser)
    args = parser.parse_args(argv)
    from sessionstore.cli import check, commands, copy, demo

    if args.command == "demo" and args.live:
        from sessionstore.cli import demo_live as demo  # type: ignore[no-redef]
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "demo": demo.run,
        "ls": commands.ls,
        "show": commands.show,
        "rm": commands.rm,
        "cp": copy.cp,
        "lease": commands.lease,
        "history": commands.history,
        "restore": commands.restore,
        "check": check.check,
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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return value


def _enable_completion(parser: argparse.ArgumentParser) -> None:
    """Shell completion through argcomplete (the ``cli`` extra), when it is installed.

    Activate once per shell: ``eval "$(register-python-argcomplete sessionstore)"``.
    Does nothing (and costs one environment lookup) unless the shell asks for completions.
    """
    import os

    if "_ARGCOMPLETE" not in os.environ:
        return
    try:
        import argcomplete
    except ImportError:
        return
    argcomplete.autocomplete(parser)
