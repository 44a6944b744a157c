"""``python -m benchmarks [--quick] [--out DIR] [--only SECTION ...]`` from the repository root.

Runs every measurement in one process (emulators in a child), then writes RESULTS.md,
results.json and latency.png. The full run writes into ``benchmarks/``; ``--quick``
into ``benchmarks/out/`` (ignored by git), so a smoke run never overwrites the
published results. Exit status 1 if a request count differs from its target (those
are deterministic); timings never fail the run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchmarks.sandbox import REPO, guard

SECTIONS = ("requests", "latency", "filesystem", "scaling", "concurrency", "coldstart")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="sessionstore benchmarks on loopback emulators (see benchmarks/RESULTS.md)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="few repetitions, small sizes (~30 s); for CI"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write RESULTS.md, results.json, latency.png "
        "(default: benchmarks/, or benchmarks/out/ with --quick)",
    )
    parser.add_argument(
        "--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="run these sections"
    )
    return parser.parse_args(argv)


def _say(message: str) -> None:
    print(f"[benchmarks {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    guard()  # loopback only, from here on
    from benchmarks import (
        coldstart,
        concurrency,
        filesystem,
        latency,
        machine,
        report,
        request_counts,
        scaling,
    )
    from benchmarks.common import Settings
    from benchmarks.serve import EmulatorHost
    from benchmarks.timing import hop_cost

    settings = Settings.quick_run() if args.quick else Settings.full()
    out: Path = args.out or (REPO / "benchmarks" / ("out" if args.quick else ""))
    results = report.Results(machine=machine.describe(), quick=args.quick)
    started = time.perf_counter()
    with EmulatorHost() as host:
        _say(f"emulators up: S3 {host.endpoints.s3}, GCS {host.endpoints.gcs}")
        if "requests" in args.only:
            _say("requests per operation")
            results.requests = request_counts.run(host)
        if "latency" in args.only:
            _say("latency against the raw SDK")
            results.hop = hop_cost(200 if args.quick else 2000)
            results.latency = latency.run(host.endpoints, settings)
        if "filesystem" in args.only:
            _say("filesystem against bare system calls")
            results.filesystem, results.filesystem_type = filesystem.run(settings)
        if "scaling" in args.only:
            _say("size scaling and peak memory")
            results.scaling = scaling.run(host.endpoints, settings)
        if "concurrency" in args.only:
            _say("concurrency")
            results.concurrency = concurrency.run(host.endpoints, settings)
        if "coldstart" in args.only:
            _say("cold start")
            results.coldstart = coldstart.run(host.endpoints, settings)
    results.duration = time.perf_counter() - started
    results.load_average_end = [round(x, 2) for x in machine.load_average()]
    written = report.write(results, out)
    for target, measured, met in report.targets(results):
        verdict = "met" if met else ("MISSED" if met is False else "-")
        _say(f"{verdict:6} {target}: {measured}")
    _say("wrote " + ", ".join(str(path) for path in written))
    wrong = [row for row in results.requests or [] if not row.met]
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
