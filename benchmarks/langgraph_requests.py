"""Requests per LangGraph checkpointer operation on a thread of 100 checkpoints, counted at
the S3 emulator (moto behind the test suite's serialising loopback server).

Compares :class:`sessionstore.adapters.langgraph.SessionStoreSaver` with
``langgraph-checkpoint-objectstorage`` (``ObjectStorageSaver`` on s3fs) on the same
emulator. s3fs needs aiobotocore, which pins a botocore older than the boto3 the
project uses, so the two cannot share one environment: ObjectStorageSaver runs in a
separate interpreter (``--objectstorage-python``, default ``.venv-objectstorage``; make
it with ``python3 -m venv .venv-objectstorage && .venv-objectstorage/bin/pip install
langgraph-checkpoint-objectstorage s3fs``) and the row is left out when there is none.

Run: ``.venv/bin/python -m benchmarks.langgraph_requests`` (a few seconds, loopback
only). Prints a Markdown table. The test suite asserts our counts exactly
(``tests/langgraph/test_requests.py``); this script only reports them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from langchain_core.runnables import RunnableConfig

    from support.s3_server import S3Emulator

__all__ = ["OPERATIONS", "main", "measure_ours"]

LENGTH = 100
THREAD = "thread-100"
BUCKET = "langgraph-requests"
OPERATIONS = (
    "put (saver that wrote the thread)",
    "put (fresh saver)",
    "put_writes, 1 write",
    "get_tuple, latest",
    "get_tuple, by checkpoint id",
    "list, limit=10",
)

#: What runs in the objectstorage interpreter: the same operations, one at a time, each
#: after the parent says "go" (so the parent can reset the request log in between).
CHILD = r"""
import asyncio, json, sys
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph_checkpoint_objectstorage import ObjectStorageSaver

url, endpoint, length, thread = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

def checkpoint(step):
    new = empty_checkpoint()
    new["id"] = str(uuid6(clock_seq=-1))
    new["channel_values"] = {"messages": [f"message {i}" for i in range(step % 5)]}
    new["channel_versions"] = {"messages": step}
    return new

def options():
    client = {"endpoint_url": endpoint, "region_name": "us-east-1"}
    return dict(key="testing", secret="testing", client_kwargs=client)

async def main():
    saver = ObjectStorageSaver.from_conn_string(url, **options())
    parent = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    for step in range(length):
        parent = await saver.aput(parent, checkpoint(step), {"source": "loop", "step": step}, {})
        await saver.aput_writes(parent, [("messages", f"reply {step}")], f"task-{step}")
    tip = parent
    head = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    async def listing():
        return [t async for t in saver.alist(head, limit=10)]
    def fresh():
        return ObjectStorageSaver.from_conn_string(url, **options())
    ops = [
        lambda: saver.aput(tip, checkpoint(length), {"step": length}, {}),
        lambda: fresh().aput(tip, checkpoint(length), {"step": length}, {}),
        lambda: saver.aput_writes(tip, [("messages", "x")], "task-x"),
        lambda: saver.aget_tuple(head),
        lambda: saver.aget_tuple(tip),
        listing,
    ]
    for op in ops:
        print("ready", flush=True)
        sys.stdin.readline()
        await op()
        print("done", flush=True)

asyncio.run(main())
"""


def checkpoint(step: int) -> Any:
    from langgraph.checkpoint.base import empty_checkpoint
    from langgraph.checkpoint.base.id import uuid6

    new = empty_checkpoint()
    new["id"] = str(uuid6(clock_seq=-1))
    new["channel_values"] = {"messages": [f"message {i}" for i in range(step % 5)]}
    new["channel_versions"] = {"messages": step}
    return new


def logged(server: S3Emulator) -> list[str]:
    """The requests since the last reset, as ``METHOD`` (``LIST`` for a listing) and status."""
    return [
        f"{'LIST' if 'list-type=2' in r.query else r.method} {r.status}" for r in server.requests()
    ]


def measure_ours(server: S3Emulator) -> dict[str, list[str]]:
    """Requests per operation for SessionStoreSaver on ``server``."""
    from sessionstore.adapters.langgraph import SessionStoreSaver
    from sessionstore.adapters.s3 import S3Persistence

    client = server.client()
    store = S3Persistence(BUCKET, f"ours-{uuid.uuid4().hex[:8]}", client=client)
    saver = SessionStoreSaver(store)
    head: RunnableConfig = {"configurable": {"thread_id": THREAD, "checkpoint_ns": ""}}

    async def build() -> RunnableConfig:
        parent = head
        for step in range(LENGTH):
            parent = await saver.aput(parent, checkpoint(step), {"step": step}, {})
            await saver.aput_writes(parent, [("messages", f"reply {step}")], f"task-{step}")
        return parent

    tip = asyncio.run(build())

    async def listing() -> None:
        _ = [item async for item in saver.alist(head, limit=10)]

    operations: list[Callable[[], Coroutine[Any, Any, Any]]] = [
        lambda: saver.aput(tip, checkpoint(LENGTH), {"step": LENGTH}, {}),
        lambda: SessionStoreSaver(store).aput(tip, checkpoint(LENGTH), {"step": LENGTH}, {}),
        lambda: saver.aput_writes(tip, [("messages", "x")], "task-x"),
        lambda: saver.aget_tuple(head),
        lambda: saver.aget_tuple(tip),
        listing,
    ]
    counts = {}
    for name, operation in zip(OPERATIONS, operations, strict=True):
        server.reset_log()
        asyncio.run(operation())
        counts[name] = logged(server)
    asyncio.run(store.aclose())
    return counts


def measure_objectstorage(server: S3Emulator, python: Path) -> dict[str, list[str]]:
    """Requests per operation for ObjectStorageSaver, run in ``python``."""
    url = f"s3://{BUCKET}/objectstorage-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true"}
    child = subprocess.Popen(
        [str(python), "-c", CHILD, url, server.endpoint_url, str(LENGTH), THREAD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
        env=env,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    counts = {}
    for name in OPERATIONS:
        line = child.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"objectstorage run failed before {name!r}: {line!r}")
        server.reset_log()
        child.stdin.write("go\n")
        child.stdin.flush()
        if child.stdout.readline().strip() != "done":
            raise RuntimeError(f"objectstorage run failed in {name!r}")
        counts[name] = logged(server)
    child.wait(timeout=60)
    return counts


def table(columns: dict[str, dict[str, list[str]]]) -> str:
    names = list(columns)
    lines = [
        f"| operation, thread of {LENGTH} checkpoints | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for operation in OPERATIONS:
        cells = " | ".join(str(len(columns[name][operation])) for name in names)
        lines.append(f"| {operation} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--objectstorage-python",
        type=Path,
        default=ROOT / ".venv-objectstorage" / "bin" / "python",
        help="interpreter with langgraph-checkpoint-objectstorage and s3fs installed",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    args = parser.parse_args(argv)

    from support.loopback import refuse_non_loopback_connections
    from support.s3_server import DUMMY_CREDENTIALS, REGION, S3Emulator

    refuse_non_loopback_connections()
    os.environ.update(
        AWS_ACCESS_KEY_ID=DUMMY_CREDENTIALS["aws_access_key_id"],
        AWS_SECRET_ACCESS_KEY=DUMMY_CREDENTIALS["aws_secret_access_key"],
        AWS_DEFAULT_REGION=REGION,
    )
    columns: dict[str, dict[str, list[str]]] = {}
    with S3Emulator() as server:
        server.create_bucket(BUCKET)
        columns["sessionstore SessionStoreSaver"] = measure_ours(server)
        if args.objectstorage_python.exists():
            columns["langgraph-checkpoint-objectstorage (s3fs)"] = measure_objectstorage(
                server, args.objectstorage_python
            )
        else:
            print(f"(no {args.objectstorage_python}: objectstorage not measured)", file=sys.stderr)
    print(json.dumps(columns, indent=2) if args.json else table(columns))


if __name__ == "__main__":
    main()
