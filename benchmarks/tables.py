"""Markdown tables from ``results.json``: numbers only, no conclusions.

Conclusions belong in the hand-written parts of RESULTS.md, outside the tables markers.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["render"]


def _machine(results: dict[str, Any]) -> list[str]:
    m = results["machine"]
    packages = ", ".join(f"{k} {v}" for k, v in m.get("packages", {}).items())
    return [
        "### Machine",
        "",
        f"- {m.get('date')}, commit {m.get('commit')} "
        f"({m.get('uncommitted_files', 0)} uncommitted files)",
        f"- {m.get('cpu')}, {m.get('nproc')} CPUs ({m.get('usable_cpus')} usable), "
        f"{m.get('memory_gib')} GiB, {m.get('os')}, {m.get('python')}",
        f"- load average (1/5/15 min) at start {m.get('load_average_start')}, "
        f"at end {m.get('load_average_end')}",
        f"- {packages}",
        "",
    ]


def _requests(rows: list[dict[str, Any]]) -> list[str]:
    backends = sorted({r["backend"] for r in rows}, key=["s3", "s3-obstore", "gcs"].index)
    by = {(r["backend"], r["operation"]): r for r in rows}
    operations = list(dict.fromkeys(r["operation"] for r in rows))
    out = [
        "### Requests per operation (counted at the servers)",
        "",
        "| operation | target | " + " | ".join(backends) + " |",
        "|---|---|" + "---|" * len(backends),
    ]
    for op in operations:
        target = next((by[b, op]["expected"] for b in backends if (b, op) in by), None)
        cells = []
        for backend in backends:
            row = by.get((backend, op))
            cells.append("" if row is None else f"{row['requests']} ({row['detail']})")
        out.append(f"| {op} | {'' if target is None else target} | " + " | ".join(cells) + " |")
    return [*out, ""]


def _roundtrips(rows: list[dict[str, Any]]) -> list[str]:
    rtt = rows[0]["rtt_ms"] if rows else 0
    out = [
        f"### Round trips per operation, warm connection, {rtt:g} ms added round-trip time",
        "",
        "Exchanges counted on the wire at the proxy (exact); wall time is the median of 5.",
        "",
        "| transport | operation | target | exchanges | new connections | Expect headers "
        "| median ms | ms / RTT |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        timing = (
            f"{r['median_ms']:.1f} | {r['median_ms'] / r['rtt_ms']:.2f}"
            if r["rtt_ms"]
            else "not timed | "
        )
        out.append(
            f"| {r['transport']} | {r['operation']} | {r['expected'] or ''} | {r['exchanges']} "
            f"| {r['new_connections']} | {r['expect_headers']} | {timing} |"
        )
    return [*out, ""]


def _cpu(rows: list[dict[str, Any]]) -> list[str]:
    values: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        _, arm, op, size = r["name"].split(" ")
        values[arm, op, size] = r
    out = [
        "### Client CPU per operation (µs, mean ± stdev of pyperf values; all threads)",
        "",
        "| transport | op | size | raw SDK | store | store / raw |",
        "|---|---|---|---|---|---|",
    ]
    for transport in ("s3-boto3", "s3-obstore", "gcs"):
        for op in ("save", "load"):
            for size in ("1KB", "64KB", "1MB"):
                raw = values.get((f"raw-{transport}", op, size))
                store = values.get((f"store-{transport}", op, size))
                if raw is None and store is None:
                    continue
                ratio = f"{store['mean_s'] / raw['mean_s']:.2f}" if raw and store else ""
                out.append(f"| {transport} | {op} | {size} | {_us(raw)} | {_us(store)} | {ratio} |")
    out += [
        "",
        "The store's own codec, no I/O (core `codec.serialize`: dump, validate the exact",
        "JSON, compare; `codec.decode`), µs per call, same run:",
        "",
        "| op | 1KB | 64KB | 1MB |",
        "|---|---|---|---|",
    ]
    for op, what in (("save", "serialize"), ("load", "decode")):
        cells = [_us(values.get(("codec", op, size))) for size in ("1KB", "64KB", "1MB")]
        out.append(f"| {what} | " + " | ".join(cells) + " |")
    hop = values.get(("hop", "save", "64KB"))
    if hop is not None:
        out += [
            "",
            f"One worker-thread hop (the boto3 and GCS transports' `WorkerPool.run` of a "
            f"no-op), same run: {_us(hop)} µs.",
        ]
    return [*out, ""]


def _us(row: dict[str, Any] | None) -> str:
    if row is None:
        return ""
    return f"{row['mean_s'] * 1e6:,.0f} ± {row['stdev_s'] * 1e6:,.0f}"


def _throughput(rows: list[dict[str, Any]]) -> list[str]:
    table: dict[str, dict[int, float]] = {}
    for r in rows:
        _, arm, n = r["name"].split(" ")
        table.setdefault(arm, {})[int(n)] = 1.0 / r["mean_s"]
    levels = sorted({n for v in table.values() for n in v})
    out = [
        "### Throughput: concurrent 8 KB saves per second, one process (asyncio.gather)",
        "",
        "| store | " + " | ".join(f"N={n}" for n in levels) + " |",
        "|---|" + "---|" * len(levels),
    ]
    for arm, by_n in table.items():
        out.append(f"| {arm} | " + " | ".join(f"{by_n.get(n, 0):,.0f}" for n in levels) + " |")
    return [*out, ""]


def _coldstart(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "### Cold start: process start to first resume (pyperf command, ms, mean ± stdev)",
        "",
        "| variant | ms |",
        "|---|---|",
    ]
    for r in rows:
        out.append(f"| {r['name']} | {r['mean_s'] * 1000:,.0f} ± {r['stdev_s'] * 1000:,.0f} |")
    return [*out, ""]


def render(results: dict[str, Any]) -> str:
    lines = _machine(results)
    for section, render_section in (
        ("requests", _requests),
        ("roundtrips", _roundtrips),
        ("cpu", _cpu),
        ("throughput", _throughput),
        ("coldstart", _coldstart),
    ):
        if results.get(section):
            lines += render_section(results[section])
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
