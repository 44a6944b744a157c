"""RESULTS.md, results.json and the plot, from one run's measurements."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from benchmarks.common import KIB, MIB, human_size
from benchmarks.plot import latency_plot

if TYPE_CHECKING:
    from pathlib import Path

    from benchmarks.coldstart import ColdRow
    from benchmarks.concurrency import ConcurrencyRow
    from benchmarks.filesystem import FsRow
    from benchmarks.latency import LatencyRow
    from benchmarks.request_counts import OpCount
    from benchmarks.scaling import ScalingResult

__all__ = ["Results", "targets", "write"]

LATENCY_TARGET = 1.15
IMPORT_TARGET = 0.030
PEAK_TARGET = 3.0
COMMAND = ".venv/bin/python -m benchmarks"


@dataclass
class Results:
    machine: dict[str, Any]
    quick: bool
    duration: float = 0.0
    load_average_end: list[float] = field(default_factory=list)
    requests: list[OpCount] | None = None
    latency: list[LatencyRow] | None = None
    hop: float | None = None
    filesystem: list[FsRow] | None = None
    filesystem_type: str = ""
    scaling: ScalingResult | None = None
    coldstart: list[ColdRow] | None = None
    concurrency: list[ConcurrencyRow] | None = None

    def as_dict(self) -> dict[str, Any]:
        def rows(items: list[Any] | None) -> list[dict[str, Any]] | None:
            return None if items is None else [item.as_dict() for item in items]

        return {
            "machine": self.machine,
            "quick": self.quick,
            "duration_s": round(self.duration, 1),
            "load_average_end": self.load_average_end,
            "requests": rows(self.requests),
            "latency": rows(self.latency),
            "hop_s": self.hop,
            "filesystem": rows(self.filesystem),
            "filesystem_type": self.filesystem_type,
            "scaling": None if self.scaling is None else self.scaling.as_dict(),
            "coldstart": rows(self.coldstart),
            "concurrency": rows(self.concurrency),
        }


# ------------------------------------------------------------------ formatting


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 0.001:
        return f"{seconds * 1e3:.3f}"
    return f"{seconds * 1e3:.2f}" if seconds < 0.1 else f"{seconds * 1e3:.1f}"


def _x(ratio: float) -> str:
    return f"{ratio:.2f}x"


def _table(header: list[str], lines: list[list[str]], align: str = "") -> list[str]:
    spec = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else "---" for a in spec]
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    out += ["| " + " | ".join(line) + " |" for line in lines]
    return [*out, ""]


def _spread(values: tuple[float, ...]) -> str:
    if len(values) < 2:
        return "-"
    return f"{min(values):.2f}-{max(values):.2f}"


def _verdict(met: bool | None) -> str:
    return {True: "**met**", False: "**missed**", None: "-"}[met]


# --------------------------------------------------------------------- targets


def targets(results: Results) -> list[tuple[str, str, bool | None]]:
    """(target, what was measured, met?) for every stated target this run measured."""
    found: list[tuple[str, str, bool | None]] = []
    if results.requests is not None:
        found.append(_requests_target(results.requests))
    if results.latency is not None:
        found += _latency_targets(results.latency)
    if results.coldstart is not None:
        found += _coldstart_targets(results.coldstart)
    if results.scaling is not None:
        found += _memory_targets(results.scaling)
    return found


def _requests_target(rows: list[OpCount]) -> tuple[str, str, bool | None]:
    wrong = [row for row in rows if not row.met]
    graded = [row for row in rows if row.expected is not None]
    measured = f"{len(graded) - len(wrong)} of {len(graded)} operation counts exact"
    if wrong:
        measured += ": " + "; ".join(f"{r.backend} {r.operation} = {r.requests}" for r in wrong)
    return ("1 request per save/load/delete, 2 per update/acquire (S3, GCS)", measured, not wrong)


def _latency_targets(rows: list[LatencyRow]) -> list[tuple[str, str, bool | None]]:
    found: list[tuple[str, str, bool | None]] = []
    for backend in ("s3", "gcs"):
        mine = [
            row
            for row in rows
            if row.backend == backend and row.size == 64 * KIB and "blocking" not in row.operation
        ]
        if mine:
            worst = max(row.ratio_p50 for row in mine)
            text = ", ".join(f"{row.operation} {row.ratio_p50:.3f}x" for row in mine)
            target = f"64 KB p50 within {LATENCY_TARGET}x of the raw SDK ({backend.upper()}, async)"
            found.append((target, text, worst <= LATENCY_TARGET))
    return found


def _coldstart_targets(rows: list[ColdRow]) -> list[tuple[str, str, bool | None]]:
    found: list[tuple[str, str, bool | None]] = []
    by_name = {row.variant: row for row in rows}
    base, mine = by_name.get("import pydantic"), by_name.get("import sessionstore")
    if base and mine:
        ours, theirs = mine.phases["import"], base.phases["import"]
        delta = ours - theirs
        found.append(
            (
                "`import sessionstore` at most 30 ms more than `import pydantic`",
                f"{delta * 1e3:+.1f} ms ({_ms(ours)} vs {_ms(theirs)} ms)",
                delta <= IMPORT_TARGET,
            )
        )
    base = by_name.get("pydantic: import, define model, dump + validate")
    mine = by_name.get("sessionstore: import, open memory://, save + load")
    if base and mine:
        ours, theirs = mine.phases["total"], base.phases["total"]
        found.append(
            (
                "first use (import, open memory://, save + load) against a hand-written "
                "pydantic model (no numeric target)",
                f"{(ours - theirs) * 1e3:+.1f} ms ({_ms(ours)} vs {_ms(theirs)} ms)",
                None,
            )
        )
    leaks = [r for r in rows if not r.variant.startswith("sessionstore: open") and r.sdk_modules]
    cloud = [r for r in rows if r.variant.startswith("sessionstore: open")]
    clean = not leaks and all(r.phases.get("sdk before open", 0) == 0 for r in cloud)
    found.append(
        (
            "no cloud-SDK module imported until an s3:// or gs:// store is opened",
            "none loaded" if clean else "loaded: " + ", ".join(r.variant for r in leaks),
            clean,
        )
    )
    return found


def _memory_targets(result: ScalingResult) -> list[tuple[str, str, bool | None]]:
    largest = max(row.size for row in result.rows)
    rows = [row for row in result.rows if row.size == largest]
    if not rows or largest < 16 * MIB:
        return []
    worst = max(rows, key=lambda row: row.peak)
    rss_worst = max(result.rss, key=lambda row: row.peak)
    size = human_size(largest)
    return [
        (
            f"peak memory of a {size} save and load at most {PEAK_TARGET:.0f}x the snapshot "
            "(tracemalloc, all four stores)",
            f"max {worst.peak:.3f}x ({worst.store} {worst.operation})",
            worst.peak <= PEAK_TARGET,
        ),
        (
            "the same, by resident-set high-water mark (also sees Rust/C allocations)",
            f"max {rss_worst.peak:.3f}x ({rss_worst.store} {rss_worst.operation})",
            rss_worst.peak <= PEAK_TARGET,
        ),
    ]


# ---------------------------------------------------------------------- sections


def _header(results: Results) -> list[str]:
    m = results.machine
    packages = ", ".join(f"{name} {version}" for name, version in m["packages"].items())
    mode = (
        "quick run (`--quick`: few repetitions, smaller sizes; not for quoting)"
        if results.quick
        else "full run"
    )
    load_end = results.load_average_end or "?"
    return [
        "# sessionstore benchmarks",
        "",
        f"Generated by `{COMMAND}{' --quick' if results.quick else ''}` from the repository root "
        f"({mode}, {results.duration / 60:.1f} min). Everything runs on loopback; nothing here "
        "is asserted: the request counts are checked by "
        "`tests/benchmarks/test_benchmarks_quick.py`.",
        "",
        "| machine | |",
        "|---|---|",
        f"| date | {m['date']} |",
        f"| CPU | {m['cpu']}, nproc {m['nproc']} (usable {m['usable_cpus']}) |",
        f"| memory | {m['memory_gib']} GiB |",
        f"| load average (1/5/15 min) | start {m['load_average_start']}, end {load_end} |",
        f"| OS, Python | {m['os']}, {m['python']} |",
        f"| tree | commit {m['commit']} + {m['uncommitted_files']} uncommitted files "
        "in the working tree |",
        f"| packages | {packages} |",
        "",
        "**How to read it.** The machine is a noisy 2-core VM shared with other processes. Every "
        "timing is a median (p50) or p99 of repeated runs; every ratio compares two things "
        "measured side by side in the same process, interleaved (alternating which goes first), "
        "so drift hits both. The emulators (moto behind the test suite's serialising, counting "
        "middleware; fake-gcs-server behind its counting proxy) run in a child process "
        "(`benchmarks/serve.py`), so their CPU does not compete for the client's GIL and "
        "`tracemalloc` sees the client only. Emulator round trips (1-5 ms) are much shorter "
        "than a real cloud's, which makes the fixed client-side overhead look *larger* in the "
        "ratios than it would be against S3 or GCS.",
        "",
    ]


def _targets_section(results: Results) -> list[str]:
    lines = [
        [target, measured + (" (see 7. Findings)" if met is False else ""), _verdict(met)]
        for target, measured, met in targets(results)
    ]
    return ["## Targets", "", *_table(["target", "measured", ""], lines, "lll")]


def _requests_section(rows: list[OpCount]) -> list[str]:
    operations = list(dict.fromkeys(row.operation for row in rows))
    by_key = {(row.backend, row.operation): row for row in rows}
    lines = []
    for operation in operations:
        s3, gcs = by_key.get(("s3", operation)), by_key.get(("gcs", operation))
        expected = (s3 or gcs).expected if (s3 or gcs) else None  # type: ignore[union-attr]
        lines.append(
            [
                operation,
                "-" if expected is None else str(expected),
                "-" if s3 is None else f"{s3.requests} ({s3.detail})",
                "-" if gcs is None else f"{gcs.requests} ({gcs.detail})",
            ]
        )
    return [
        "## 1. Requests per operation (counted at the server)",
        "",
        "Each operation against a store built by the library itself (`endpoint_url=` / "
        "`api_endpoint=`), counted by the emulator's request log, not by the client. "
        '"first operation" includes the lazy client construction; any background '
        "request within 0.5 s after an operation would be counted too. The last rows are the "
        "raw SDK doing one PUT/GET, for reference.",
        "",
        *_table(
            ["operation", "target", "S3: requests (server saw)", "GCS: requests (server saw)"],
            lines,
            "lrll",
        ),
    ]


def _latency_section(rows: list[LatencyRow], hop: float | None) -> list[str]:
    lines = [
        [
            row.backend.upper(),
            row.operation,
            human_size(row.size),
            _ms(row.lib_p50),
            _ms(row.raw_p50),
            f"**{_x(row.ratio_p50)}**",
            _spread(row.block_ratios),
            _ms(row.lib_p99),
            _ms(row.raw_p99),
            _x(row.ratio_p99),
            _ms(row.lib_p50 - row.raw_p50),
            _ms(row.codec_p50),
        ]
        for row in rows
    ]
    counts = sorted({row.iterations for row in rows})
    blocks = max((len(row.block_ratios) for row in rows), default=0)
    hop_text = (
        f" One `run_in_executor` round trip of a no-op (the hop every async operation makes "
        f"so that blocking I/O never runs on the event loop) takes **{_ms(hop)} ms** p50 here."
        if hop is not None
        else ""
    )
    return [
        "## 2. Latency: sessionstore against the raw SDK call (same emulator, same process)",
        "",
        f"{' or '.join(str(c) for c in counts)} interleaved iterations per row (64 KB rows: "
        f"the most), in {blocks} blocks that rotate through all rows so drift spreads over "
        "all of them (5 warm-up iterations per block). *blocks* is the range of the per-block "
        "p50 ratios: the noise. What each side does:",
        "",
        "- **sessionstore**: `await store.save(id, snapshot)` = encode (fresh write id) + "
        "checksum + one request on a worker thread; `await store.load(id)` = one GET + "
        "decode and validate into a `SessionSnapshot`. *blocking API* rows use "
        "`store.blocking.save/load` (one more thread hop, through the background loop). "
        "*conditional* = `expected_version=` the previous version.",
        '- **raw S3**: `put_object(Body=<the same encoded bytes>, ContentType="application/json", '
        'ChecksumAlgorithm="SHA256", ChecksumSHA256=<computed in the call>[, IfMatch=<etag>])` '
        'and `get_object(...)["Body"].read()` of the very object sessionstore wrote, on a boto3 '
        "client configured like the adapter's (standard retries, 4 attempts, checksums "
        "`when_required`/`when_supported`, same pool size). Both sides' requests are signed "
        "the same way by botocore.",
        '- **raw GCS**: `Blob.upload_from_string(<same bytes>, content_type="application/json", '
        'checksum="crc32c"[, if_generation_match=<gen>])` (one multipart POST carrying the '
        'CRC32C, as the adapter\'s) and `Blob.download_as_bytes(checksum="crc32c")` (one media '
        "GET, CRC32C verified, as the adapter's), on a `storage.Client` with the same pool size.",
        "- Raw calls run directly on the loop's thread (no hop, no encoding, no validation): the "
        "strictest baseline. An async application calling the raw SDK would need the same "
        "thread hop (`asyncio.to_thread`) to keep its loop free." + hop_text,
        "",
        *_table(
            [
                "backend",
                "operation",
                "size",
                "lib p50",
                "raw p50",
                "p50 ratio",
                "blocks",
                "lib p99",
                "raw p99",
                "p99 ratio",
                "p50 overhead (ms)",
                "codec p50",
            ],
            lines,
            "lllrrrrrrrrr",
        ),
        "Times in ms. *codec p50* is `codec.encode` (saves) or `codec.decode` (loads) alone "
        "in a tight loop (warm caches): a lower bound of its share of the overhead. p99 of a "
        "few hundred samples on a shared VM is mostly noise.",
        "",
    ]


def _filesystem_section(rows: list[FsRow], fs_type: str) -> list[str]:
    lines = [
        [
            row.operation,
            human_size(row.size),
            _ms(row.lib_p50),
            _ms(row.bare_p50),
            f"**{_x(row.ratio_p50)}**",
            _ms(row.lib_p99),
            _ms(row.bare_p99),
            _x(row.ratio_p99),
            _ms(row.codec_p50),
        ]
        for row in rows
    ]
    return [
        "## 3. Filesystem store against the bare system calls",
        "",
        f"On {fs_type or 'the temp directory'}, interleaved, {rows[0].iterations if rows else 0} "
        "iterations per row. *bare durable write*: `open(O_EXCL)` + `write` + `fsync` + "
        "`close` + `rename` + `open(dir)` + `fsync(dir)` of the same encoded bytes (the least a "
        "crash-safe replace takes); sessionstore adds encoding, the stripe `flock`, the worker "
        "hop and (conditional) reading the current version. *bare read*: `open` + `read`; "
        "sessionstore adds decode + validation (the *codec* column) and the hop.",
        "",
        *_table(
            [
                "operation",
                "size",
                "lib p50",
                "bare p50",
                "p50 ratio",
                "lib p99",
                "bare p99",
                "p99 ratio",
                "codec p50",
            ],
            lines,
            "llrrrrrrr",
        ),
    ]


def _scaling_section(result: ScalingResult) -> list[str]:
    sizes = sorted({row.size for row in result.rows})
    stores = list(dict.fromkeys(row.store for row in result.rows))
    by_key = {(row.store, row.operation, row.size): row for row in result.rows}
    time_lines = []
    peak_lines = []
    for store in stores:
        for operation in ("save", "load"):
            cells, peaks = [store, operation], [store, operation]
            for size in sizes:
                row = by_key.get((store, operation, size))
                if row is None:
                    cells.append("-")
                    peaks.append("-")
                    continue
                raw = f" / {_ms(row.raw_p50)}" if row.raw_p50 is not None else ""
                cells.append(f"{_ms(row.lib_p50)}{raw}")
                kept = f" ({row.result:.2f})" if operation == "load" else ""
                peaks.append(f"{row.peak:.2f}{kept}")
            time_lines.append(cells)
            peak_lines.append(peaks)
    size_header = [human_size(size) for size in sizes]
    largest = human_size(max(sizes)) if sizes else ""
    rss_lines = [[row.store, row.operation, _x(row.peak)] for row in result.rss]
    blind = result.blind_spot
    nan = float("nan")
    collector = result.gc_effect
    return [
        "## 4. Size scaling: time and peak memory per save and load",
        "",
        "Snapshots shaped like an agent's (a chat transcript of ~850-byte message dicts in "
        "`state`, topped up to the exact encoded size in `transcript_summary`).",
        "",
        "**p50 time (ms), sessionstore / bare baseline** (raw SDK call; bare durable write or "
        "read for the filesystem; none for memory):",
        "",
        *_table(["store", "op", *size_header], time_lines),
        "**tracemalloc peak during the operation, as a multiple of the encoded size** (for "
        "loads, in brackets: what is still allocated afterwards, i.e. the returned snapshot's "
        "own Python objects). Small sizes are dominated by fixed costs (a few KB to tens of KB "
        "of SDK request machinery), not by the body.",
        "",
        *_table(["store", "op", *size_header], peak_lines),
        "What `tracemalloc` sees and does not see: it hooks Python's allocators, so it sees "
        "every `bytes`, `str`, `dict` and `list`, including the Python objects pydantic-core "
        "creates through the C API, on every thread. It does not see memory that C or Rust code "
        "takes from `malloc` itself: pydantic-core's serialisation buffer (the whole JSON as a "
        "Rust `Vec` before it is copied into `bytes`), the parse tree pydantic-core builds "
        "while validating JSON, OpenSSL or kernel buffers. Measured on `to_json` of the "
        f"{largest} snapshot alone: tracemalloc peak **{_x(blind.get('tracemalloc_peak', nan))}**, "
        f"resident high-water mark **{_x(blind.get('rss_peak', nan))}**: the Rust buffer "
        "is invisible to tracemalloc. So the same operations were also measured by resident "
        f"set, in a fresh interpreter per row ({largest}; `VmHWM` reset through "
        "`/proc/self/clear_refs`; glibc told to unmap freed large blocks):",
        "",
        *_table([f"store ({largest})", "op", "RSS peak added / size"], rss_lines, "llr"),
        f"The cyclic GC's share of a {largest} decode (p50 of `codec.decode`, the same body): "
        f"**{_ms(collector.get('gc_on'))} ms** with the GC enabled, "
        f"**{_ms(collector.get('gc_off'))} ms** "
        "with it disabled. A large snapshot decodes into many container objects, which triggers "
        "full collections that scan every live container of the process; large-snapshot loads are "
        "bimodal for that reason, and their medians above are noisy.",
        "",
        "![latency against size](latency.png)",
        "",
    ]


def _coldstart_section(rows: list[ColdRow]) -> list[str]:
    lines = []
    for row in rows:
        phases = ", ".join(
            f"{name} {_ms(value)}" if "sdk" not in name else f"{name}: {int(value)}"
            for name, value in row.phases.items()
        )
        sdk = (
            "none"
            if not row.sdk_modules
            else f"{len(row.sdk_modules)} ("
            + ", ".join(sorted({name.split(".")[0] for name in row.sdk_modules}))
            + ")"
        )
        lines.append([row.variant, str(row.runs), phases, _ms(row.process), str(row.modules), sdk])
    by_name = {row.variant: row for row in rows}
    deltas = []
    pairs = (
        ("import pydantic", "import sessionstore", "import"),
        (
            "pydantic: import, define model, dump + validate",
            "sessionstore: import, open memory://, save + load",
            "total",
        ),
    )
    for base_name, mine_name, phase in pairs:
        base, mine = by_name.get(base_name), by_name.get(mine_name)
        if base and mine:
            delta = mine.phases[phase] - base.phases[phase]
            deltas.append(
                f"- `{mine_name}` against `{base_name}`: **{delta * 1e3:+.1f} ms** in the child "
                f"({_ms(mine.phases[phase])} vs {_ms(base.phases[phase])}), "
                f"{(mine.process - base.process) * 1e3:+.1f} ms of whole-process wall time."
            )
    return [
        "## 5. Cold start (fresh interpreter per sample)",
        "",
        "Each sample is a new `python -c` process; the child times itself from its first line "
        "(interpreter start-up excluded, it is the same for all), the parent records the whole "
        "process. Variants interleaved round-robin after one unrecorded warm-up round, medians. "
        "Bytecode caches are warm for every module, as after `pip install` (a private "
        "`PYTHONPYCACHEPREFIX`; this machine sets `PYTHONDONTWRITEBYTECODE`, which would "
        "otherwise recompile the editable sessionstore sources on every start, about 1 ms "
        "per module, while pydantic's wheel ships compiled). The pydantic baseline defines a "
        "`BaseModel` with the same fields, config and validators as `SessionSnapshot`, dumps "
        "it to JSON into a dict and validates it back, inside `asyncio.run` like the "
        "sessionstore variant. The cloud rows open a store on the emulator: `open_store` "
        "imports the SDK; the first save builds the client and sends one request.",
        "",
        *_table(
            [
                "variant",
                "runs",
                "phases in the child, p50 (ms)",
                "process p50 (ms)",
                "modules",
                "cloud-SDK modules loaded",
            ],
            lines,
            "lrlrrl",
        ),
        *deltas,
        "",
    ]


def _concurrency_section(rows: list[ConcurrencyRow]) -> list[str]:
    lines = [
        [
            row.backend.upper(),
            row.operation,
            str(row.sessions),
            human_size(row.size),
            _ms(row.lib_wall),
            _ms(row.raw_wall),
            f"**{_x(row.ratio)}**",
            f"{row.sessions / row.lib_wall:.0f}",
        ]
        for row in rows
    ]
    return [
        "## 6. Concurrency: 64 sessions at once",
        "",
        "sessionstore: `await asyncio.gather(*(store.save(id, snapshot) for id in ids))` (then "
        "the same with `load`) on one store (32 worker threads, 32 pooled connections); raw: "
        "the same 64 PUTs/GETs of the encoded bytes through the raw SDK client (32 pooled "
        "connections) on a 32-thread `ThreadPoolExecutor`. Median wall time per round, rounds "
        "interleaved. The emulators serialise mutations (moto: every request), so the server "
        "bounds both sides; the ratio is what the client side adds under concurrency.",
        "",
        *_table(
            [
                "backend",
                "operation",
                "sessions",
                "size",
                "lib wall (ms)",
                "raw wall (ms)",
                "ratio",
                "lib ops/s",
            ],
            lines,
            "llrrrrrr",
        ),
    ]


def _findings_section(results: Results) -> list[str]:
    from benchmarks.findings import findings

    return ["## 7. Findings, causes and proposed fixes", "", *findings(results), ""]


def render(results: Results) -> str:
    parts = [*_header(results), *_targets_section(results)]
    if results.requests is not None:
        parts += _requests_section(results.requests)
    if results.latency is not None:
        parts += _latency_section(results.latency, results.hop)
    if results.filesystem is not None:
        parts += _filesystem_section(results.filesystem, results.filesystem_type)
    if results.scaling is not None:
        parts += _scaling_section(results.scaling)
    if results.coldstart is not None:
        parts += _coldstart_section(results.coldstart)
    if results.concurrency is not None:
        parts += _concurrency_section(results.concurrency)
    parts += _findings_section(results)
    return "\n".join(parts).rstrip() + "\n"


def write(results: Results, directory: Path) -> list[Path]:
    """Write RESULTS.md, results.json and latency.png into ``directory``; their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / "RESULTS.md", directory / "results.json"]
    written[0].write_text(render(results))
    written[1].write_text(json.dumps(results.as_dict(), indent=1, default=str) + "\n")
    if results.scaling is not None:
        plot = directory / "latency.png"
        m = results.machine
        latency_plot(
            results.scaling.rows,
            plot,
            f"{m['date']}, {m['cpu']}, nproc {m['nproc']}, {m['python']}",
        )
        written.append(plot)
    return written
