"""A small, fast, in-memory S3 server on loopback, with keep-alive connections.

moto behind werkzeug costs about 5 ms per request and closes every connection after
one response (werkzeug always sends ``Connection: close``), which hides client-side
cost and makes warm-connection round trips impossible to see. This server answers in
a fraction of a millisecond and keeps HTTP/1.1 connections open, like S3.

It implements what the store and the raw-SDK references send, path-style only:
PutObject (``If-None-Match: *``, ``If-Match``, ``x-amz-checksum-sha256`` verified and
kept, ``x-amz-meta-*`` kept), GetObject/HeadObject (checksum returned with
``x-amz-checksum-mode: ENABLED``), DeleteObject (``If-Match``), ListObjectsV2
(``prefix``, ``delimiter``, ``max-keys``, ``continuation-token``, ``start-after``),
CreateBucket. Requests are decided one at a time on one event loop, so every
conditional request is atomic, as on S3. Signatures are not checked.

It answers ``Expect: 100-continue`` with ``100 Continue`` (as S3 does), so a client that
sends that header pays the extra round trip here too.

Run in a thread (:class:`FastS3`) for tests, or as a process for benchmarks:
``python -m support.fast_s3`` prints the port on its first line.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import sys
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["FastS3", "Logged"]


@dataclass(frozen=True)
class _Object:
    body: bytes
    etag: str
    modified: float
    meta: tuple[tuple[str, str], ...]
    sha256: str | None


@dataclass(frozen=True)
class Logged:
    method: str
    key: str
    status: int


@dataclass
class _State:
    buckets: dict[str, dict[str, _Object]] = field(default_factory=dict)
    log: list[Logged] = field(default_factory=list)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def _error(status: int, code: str, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error>"
    ).encode()
    return status, [("Content-Type", "application/xml")], body


_REASONS = {
    100: "Continue",
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    404: "Not Found",
    412: "Precondition Failed",
    405: "Method Not Allowed",
}


class _Handler:
    def __init__(self, state: _State) -> None:
        self.state = state

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        parts = urlsplit(target)
        path = unquote(parts.path).lstrip("/")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        bucket, _, key = path.partition("/")
        status, out_headers, out = self._route(method, bucket, key, query, headers, body)
        self.state.log.append(Logged(method, key, status))
        return status, out_headers, out

    def _route(
        self,
        method: str,
        bucket: str,
        key: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        objects = self.state.buckets.get(bucket)
        if not key:
            if method == "PUT":
                self.state.buckets.setdefault(bucket, {})
                return 200, [], b""
            if objects is None:
                return _error(404, "NoSuchBucket", "The specified bucket does not exist")
            if method == "GET":
                return self._list(objects, bucket, query)
            return _error(405, "MethodNotAllowed", method)
        if objects is None:
            return _error(404, "NoSuchBucket", "The specified bucket does not exist")
        current = objects.get(key)
        if_match = headers.get("if-match")
        if_none_match = headers.get("if-none-match")
        if method in ("GET", "HEAD"):
            if current is None:
                return _error(404, "NoSuchKey", "The specified key does not exist.")
            out = [
                ("ETag", current.etag),
                ("Last-Modified", formatdate(current.modified, usegmt=True)),
                ("Content-Type", "application/json"),
                *current.meta,
            ]
            if current.sha256 and headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
                out.append(("x-amz-checksum-sha256", current.sha256))
            if method == "HEAD":
                out.append(("Content-Length", str(len(current.body))))
                return 200, out, b""
            return 200, out, current.body
        if method == "PUT":
            if if_none_match == "*" and current is not None:
                return _error(412, "PreconditionFailed", "If-None-Match: * and the key exists")
            if if_match is not None:
                if current is None:
                    return _error(404, "NoSuchKey", "The specified key does not exist.")
                if current.etag != if_match:
                    return _error(412, "PreconditionFailed", "If-Match did not hold")
            sha = headers.get("x-amz-checksum-sha256")
            if sha is not None and base64.b64encode(hashlib.sha256(body).digest()).decode() != sha:
                return _error(400, "BadDigest", "x-amz-checksum-sha256 did not match")
            etag = f'"{hashlib.md5(body).hexdigest()}"'
            meta = tuple((k, v) for k, v in headers.items() if k.startswith("x-amz-meta-"))
            objects[key] = _Object(body, etag, time.time(), meta, sha)
            out = [("ETag", etag)]
            if sha is not None:
                out.append(("x-amz-checksum-sha256", sha))
            return 200, out, b""
        if method == "DELETE":
            if if_match is not None:
                if current is None:
                    return _error(404, "NoSuchKey", "The specified key does not exist.")
                if current.etag != if_match:
                    return _error(412, "PreconditionFailed", "If-Match did not hold")
            objects.pop(key, None)
            return 204, [], b""
        return _error(405, "MethodNotAllowed", method)

    def _list(
        self, objects: dict[str, _Object], bucket: str, query: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter", "")
        limit = int(query.get("max-keys", "1000"))
        after = query.get("continuation-token") or query.get("start-after") or ""
        keys: list[str] = []
        prefixes: list[str] = []
        truncated = False
        for key in sorted(objects):
            if not key.startswith(prefix) or key <= after:
                continue
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    rolled = key[: cut + len(delimiter)]
                    if rolled not in prefixes:
                        prefixes.append(rolled)
                    continue
            if len(keys) >= limit:
                truncated = True
                break
            keys.append(key)
        items = "".join(
            f"<Contents><Key>{escape(k)}</Key><LastModified>{_iso(objects[k].modified)}"
            f"</LastModified><ETag>{escape(objects[k].etag)}</ETag>"
            f"<Size>{len(objects[k].body)}</Size><StorageClass>STANDARD</StorageClass></Contents>"
            for k in keys
        )
        common = "".join(
            f"<CommonPrefixes><Prefix>{escape(p)}</Prefix></CommonPrefixes>" for p in prefixes
        )
        token = (
            f"<NextContinuationToken>{escape(keys[-1])}</NextContinuationToken>"
            if truncated
            else ""
        )
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>"
            f"<KeyCount>{len(keys)}</KeyCount><MaxKeys>{limit}</MaxKeys>"
            f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{token}"
            f"{items}{common}</ListBucketResult>"
        ).encode()
        return 200, [("Content-Type", "application/xml")], xml


async def _serve_connection(
    handler: _Handler, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            method, target, _ = line.decode("latin-1").split(" ", 2)
            headers: dict[str, str] = {}
            while True:
                raw = await reader.readline()
                if raw in (b"\r\n", b"\n", b""):
                    break
                name, _, value = raw.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            if headers.get("expect", "").lower() == "100-continue" and length:
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                await writer.drain()
            body = await reader.readexactly(length) if length else b""
            status, out_headers, out = handler.handle(method, target, headers, body)
            head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}"]
            head += [f"{name}: {value}" for name, value in out_headers]
            if not any(name == "Content-Length" for name, _ in out_headers):
                head.append(f"Content-Length: {len(out)}")
            head.append("x-amz-request-id: fast-s3")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + out)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        return
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class FastS3:
    """``with FastS3() as s3: s3.endpoint_url``; ``s3.requests()`` lists what it answered."""

    def __init__(self, buckets: Sequence[str] = ()) -> None:
        self._state = _State(buckets={name: {} for name in buckets})
        self._handler = _Handler(self._state)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FastS3:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def create_bucket(self, name: str) -> None:
        self._loop.call_soon_threadsafe(self._state.buckets.setdefault, name, {})

    def requests(self) -> list[Logged]:
        return list(self._state.log)

    def reset_log(self) -> None:
        self._state.log.clear()

    async def _start(self) -> int:
        self._server = await start(self._handler)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        await _cancel_others()


async def start(handler: _Handler, port: int = 0) -> asyncio.Server:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.CancelledError):  # closed by stop: end quietly
            await _serve_connection(handler, reader, writer)

    return await asyncio.start_server(serve, "127.0.0.1", port)


def main(argv: Sequence[str]) -> None:
    """Serve until stdin closes; print the port first. ``argv``: buckets to create."""

    async def run() -> None:
        handler = _Handler(_State(buckets={name: {} for name in argv}))
        server = await start(handler)
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        server.close()

    asyncio.run(run())


if __name__ == "__main__":
    main(sys.argv[1:])


async def _cancel_others() -> None:
    """Cancel this loop's other tasks (open connections) so it can close cleanly."""
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
