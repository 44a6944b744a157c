"""``sessionstore check URL``: does this store really do compare-and-swap?

Everything sessionstore guarantees rests on the store refusing stale conditional
requests. S3-compatible services and emulators differ: some accept
``If-None-Match``/``If-Match`` headers and ignore them, some ignore delete
preconditions. This command probes the store on a scratch session
(``sessionstore-check-<random>``), which it deletes afterwards, and reports:

* create-only writes: a second create of an existing session must be refused;
* If-Match writes: a save on a superseded version must be refused;
* conditional deletes: a delete on a superseded version must be refused and must
  leave the session in place; a delete on the current version must succeed;
* upload checksums (S3 and GCS only): a body sent with a wrong checksum must be
  refused by the server.

The exit status is 1 if any compare-and-swap probe fails (unsafe). Checksum
verification is reported but does not decide the verdict: sessionstore checks
checksums on every download itself, and common emulators (moto, fake-gcs-server)
do not verify uploads. On a versioned bucket the probe leaves noncurrent
versions of the scratch object behind (lifecycle rules expire them).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sessionstore.cli import EXIT_FAILED, EXIT_OK
from sessionstore.cli.commands import emit_json, run
from sessionstore.errors import ConflictError, SessionStoreError
from sessionstore.model import SessionSnapshot
from sessionstore.registry import open_store

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from sessionstore.contract import SessionPersistence


@dataclass(frozen=True)
class Probe:
    name: str
    ok: bool | None  # None: not applicable / could not tell
    detail: str


def check(args: argparse.Namespace) -> int:
    return run(_check(args))


async def _check(args: argparse.Namespace) -> int:
    scratch = f"sessionstore-check-{secrets.token_hex(6)}"
    async with open_store(args.url) as store:
        try:
            probes = await _probe_cas(store, scratch)
        finally:
            with contextlib.suppress(SessionStoreError):
                await store.delete(scratch)
        checksum = await _probe_checksum(store, scratch + "-checksum")
    safe = all(probe.ok for probe in probes)
    if args.json:
        document: dict[str, Any] = {
            "url": args.url,
            "store": type(store).__name__,
            "scratch_session": scratch,
            "safe": safe,
            "checks": [asdict(probe) for probe in probes],
            "checksums": asdict(checksum),
        }
        emit_json(document)
    else:
        print(f"check {args.url} ({type(store).__name__}) on scratch session {scratch}")
        for probe in [*probes, checksum]:
            verdict = {True: "ok", False: "UNSAFE", None: "n/a"}[probe.ok]
            if probe is checksum and probe.ok is False:
                verdict = "warning"
            print(f"  {probe.name:<22} {verdict:<8} {probe.detail}")
        print(
            "verdict: safe for compare-and-swap"
            if safe
            else "verdict: UNSAFE: this store does not enforce what sessionstore relies on"
        )
    return EXIT_OK if safe else EXIT_FAILED


def _snapshot(step: int) -> SessionSnapshot:
    return SessionSnapshot(state={"probe": step}, phase="sessionstore-check", turn_count=step)


async def _probe_cas(store: SessionPersistence, scratch: str) -> list[Probe]:
    probes: list[Probe] = []
    first = await store.save(scratch, _snapshot(1), expected_version=None)
    try:
        await store.save(scratch, _snapshot(2), expected_version=None)
        probes.append(Probe("create-only writes", False, "a create of an existing session won"))
    except ConflictError:
        probes.append(Probe("create-only writes", True, "a second create was refused"))
    current = (await _version(store, scratch)) or first
    second = await store.save(scratch, _snapshot(3), expected_version=current)
    stale = first if first != second else current
    try:
        await store.save(scratch, _snapshot(4), expected_version=stale)
        probes.append(Probe("If-Match writes", False, "a save on a superseded version won"))
    except ConflictError:
        probes.append(Probe("If-Match writes", True, "a save on a superseded version was refused"))
    try:
        await store.delete(scratch, expected_version=stale)
        gone = await store.load(scratch) is None
        detail = "a delete on a superseded version " + ("deleted" if gone else "was accepted")
        probes.append(Probe("conditional deletes", False, detail))
    except ConflictError:
        still_there = await store.load(scratch) is not None
        latest = await _version(store, scratch)
        if not still_there or latest is None:
            probes.append(Probe("conditional deletes", False, "refused, but the session is gone"))
        else:
            try:
                await store.delete(scratch, expected_version=latest)
            except ConflictError:
                probes.append(
                    Probe("conditional deletes", False, "a delete on the current version failed")
                )
            else:
                probes.append(
                    Probe(
                        "conditional deletes",
                        True,
                        "a stale delete was refused, a current one deleted",
                    )
                )
    return probes


async def _version(store: SessionPersistence, session_id: str) -> str | None:
    loaded = await store.load_versioned(session_id)
    return loaded.version if loaded else None


# ------------------------------------------------------------------ checksums


async def _probe_checksum(store: SessionPersistence, scratch: str) -> Probe:
    name = "upload checksums"
    probe = _CHECKSUM_PROBES.get(type(store).__name__)
    if probe is None:
        return Probe(name, None, "local store: no upload to verify")
    refused, detail = await store._run_sync(probe, store, scratch)
    if refused:
        return Probe(name, True, detail)
    return Probe(name, False, detail)


def _s3_checksum(store: Any, scratch: str) -> tuple[bool, str]:
    from botocore.exceptions import ClientError

    client = store._s3()
    key = store._key(scratch)
    body = b'{"sessionstore-check": "checksum probe"}'
    wrong = base64.b64encode(hashlib.sha256(body + b"x").digest()).decode()
    try:
        client.put_object(Bucket=store.bucket, Key=key, Body=body, ChecksumSHA256=wrong)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        return True, f"a PUT with a wrong SHA-256 was refused ({code})"
    with contextlib.suppress(ClientError):
        client.delete_object(Bucket=store.bucket, Key=key)
    return False, "a PUT with a wrong SHA-256 was stored (downloads are still verified)"


def _gcs_checksum(store: Any, scratch: str) -> tuple[bool, str]:
    from urllib.parse import quote

    from sessionstore.adapters.gcs import _http

    transport = store._clients.transport()
    name = store._object_name(scratch)
    body = b'{"sessionstore-check": "checksum probe"}'
    resource = {"name": name, "contentType": "application/json"}
    resource["crc32c"] = _http.crc32c_of(body + b"x")
    payload, content_type = _http._multipart(json.dumps(resource).encode(), body)
    url = f"{transport.base_url}/upload/storage/v1/b/{quote(store.bucket, safe='')}/o"
    response = transport.session.request(
        "POST",
        url,
        params={"uploadType": "multipart", "ifGenerationMatch": "0"},
        data=payload,
        headers={"Content-Type": content_type},
        timeout=store._timeout,
    )
    with response:
        status = response.status_code
    if status == 400:
        return True, "an upload with a wrong CRC32C was refused (400)"
    if status < 300:
        with contextlib.suppress(Exception):
            _http.delete(transport, store.bucket, name, if_generation_match=None, timeout=10)
        return False, "an upload with a wrong CRC32C was stored (downloads are still verified)"
    return False, f"could not tell: the probe upload was answered {status}"


_CHECKSUM_PROBES: dict[str, Callable[[Any, str], tuple[bool, str]]] = {
    "S3Persistence": _s3_checksum,
    "GcsPersistence": _gcs_checksum,
}
