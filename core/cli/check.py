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
from sessionstore.cli.commands import check_listable, emit_json, run
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
        check_listable(store, args.url)  # probing a mistyped directory must not create it
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
        for probe in probes:
            verdict = "ok" if probe.ok else "UNSAFE"
            print(f"  {probe.name:<22} {verdict:<8} {probe.detail}")
        verdict = {True: "ok", False: "warning", None: "-"}[checksum.ok]
        print(f"  {checksum.name:<22} {verdict:<8} {checksum.detail}")
        print(
            "verdict: safe for compare-and-swap"
            if safe
            else "verdict: UNSAFE: this store does not enforce what sessionstore relies on"
        )
    return EXIT_OK if safe else EXIT_FAILED


def _snapshot(step: int) -> SessionSnapshot:
    return SessionSnapshot(state={"probe": step}, phase="sessionstore-check", turn_count=step)


_PROBES = ("create-only writes", "If-Match writes", "conditional deletes")


async def _probe_cas(store: SessionPersistence, scratch: str) -> list[Probe]:
    """Run the three probes in order; an error fails the probe it hit and skips the rest."""
    probes: list[Probe] = []
    try:
        await _probe_steps(store, scratch, probes)
    except SessionStoreError as exc:
        failed = _PROBES[len(probes)]
        probes.append(Probe(failed, False, f"the probe failed: {type(exc).__name__}: {exc}"))
    probes += [Probe(name, False, "not run") for name in _PROBES[len(probes) :]]
    return probes


async def _probe_steps(store: SessionPersistence, scratch: str, probes: list[Probe]) -> None:
    first = await store.save(scratch, _snapshot(1), expected_version=None)
    try:
        await store.save(scratch, _snapshot(2), expected_version=None)
        probes.append(Probe(_PROBES[0], False, "a create of an existing session won"))
    except ConflictError:
        probes.append(Probe(_PROBES[0], True, "a second create was refused"))

    current = (await _version(store, scratch)) or first
    second = await store.save(scratch, _snapshot(3), expected_version=current)
    stale = first if first != second else current
    try:
        await store.save(scratch, _snapshot(4), expected_version=stale)
        probes.append(Probe(_PROBES[1], False, "a save on a superseded version won"))
    except ConflictError:
        probes.append(Probe(_PROBES[1], True, "a save on a superseded version was refused"))

    try:
        await store.delete(scratch, expected_version=stale)
    except ConflictError:
        pass
    else:
        gone = await store.load(scratch) is None
        detail = "a delete on a superseded version " + ("deleted" if gone else "was accepted")
        probes.append(Probe(_PROBES[2], False, detail))
        return
    latest = await _version(store, scratch)
    if latest is None:
        probes.append(Probe(_PROBES[2], False, "a stale delete was refused, but deleted"))
        return
    try:
        await store.delete(scratch, expected_version=latest)
    except ConflictError:
        probes.append(Probe(_PROBES[2], False, "a delete on the current version was refused"))
        return
    if await store.load(scratch) is not None:
        probes.append(Probe(_PROBES[2], False, "a delete on the current version left it"))
        return
    probes.append(Probe(_PROBES[2], True, "a stale delete was refused, a current one deleted"))


async def _version(store: SessionPersistence, session_id: str) -> str | None:
    loaded = await store.load_versioned(session_id)
    return loaded.version if loaded else None


# ------------------------------------------------------------------ checksums


async def _probe_checksum(store: SessionPersistence, scratch: str) -> Probe:
    name = "upload checksums"
    probe = _CHECKSUM_PROBES.get(type(store).__name__)
    if probe is None:
        return Probe(name, None, "local store: no upload to verify")
    try:
        refused, detail = await store._run_sync(probe, store, scratch)
    except Exception as exc:  # informational only: never let it hide the CAS verdict
        return Probe(name, None, f"could not tell: {type(exc).__name__}: {exc}")
    return Probe(name, refused, detail)


def _s3_checksum(store: Any, scratch: str) -> tuple[bool | None, str]:
    from botocore.exceptions import ClientError

    client = store._s3()
    key = store._key(scratch)
    body = b'{"sessionstore-check": "checksum probe"}'
    wrong = base64.b64encode(hashlib.sha256(body + b"x").digest()).decode()
    try:
        # Create-only, so a bucket policy that denies unconditional PutObjects lets it through.
        client.put_object(
            Bucket=store.bucket, Key=key, Body=body, ChecksumSHA256=wrong, IfNoneMatch="*"
        )
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _S3_CHECKSUM_REFUSALS or status == 400:
            return True, f"a PUT with a wrong SHA-256 was refused ({code})"
        return None, f"could not tell: the probe PUT was answered {code} (HTTP {status})"
    with contextlib.suppress(ClientError):
        client.delete_object(Bucket=store.bucket, Key=key)
    return False, "a PUT with a wrong SHA-256 was stored (downloads are still verified)"


_S3_CHECKSUM_REFUSALS = frozenset(
    {"BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch", "XAmzContentSHA256Mismatch"}
)


def _gcs_checksum(store: Any, scratch: str) -> tuple[bool | None, str]:
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
    return None, f"could not tell: the probe upload was answered HTTP {status}"


_CHECKSUM_PROBES: dict[str, Callable[[Any, str], tuple[bool | None, str]]] = {
    "S3Persistence": _s3_checksum,
    "GcsPersistence": _gcs_checksum,
}
