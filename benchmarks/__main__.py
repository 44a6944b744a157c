"""``python -m benchmarks [--quick] [--out DIR] [--only SECTION ...]`` from the repository root.

Sections (all on loopback):

* ``requests``   requests per operation, counted at the S3 (moto) and GCS
                 (fake-gcs-server) emulators, for every transport. Exact.
* ``roundtrips`` request/response exchanges per operation through a proxy that adds
                 20 ms of round-trip time, counted on the wire (exact), with the
                 measured wall time next to them.
* ``cpu``        client CPU per save and load at 1 KB, 64 KB and 1 MB, store and raw
                 SDK per transport (pyperf).
* ``throughput`` concurrent 8 KB saves per second at concurrency 1 to 256 (pyperf).
* ``coldstart``  process start to first resume, per transport (``pyperf command``).

``--quick`` (what CI runs, well under a minute) runs ``requests`` and ``roundtrips``
with no added delay and checks only counts: nothing it reports is a timing. The full
run writes ``benchmarks/results.json`` and the tables of ``benchmarks/RESULTS.md``
(between its ``tables`` markers; the prose around them is written by people). Exit
status 1 if a request or round-trip count differs from its target.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.sandbox import REPO, guard, loopback_environment

SECTIONS = ("requests", "roundtrips", "cpu", "throughput", "coldstart")
QUICK_SECTIONS = ("requests", "roundtrips")
BEGIN, END = "<!-- tables:begin -->", "<!-- tables:end -->"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="sessionstore benchmarks on loopback servers (see benchmarks/RESULTS.md)",
    )
    parser.add_argument("--quick", action="store_true", help="counts only, no timings; for CI")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write results.json and RESULTS.md (default: benchmarks/, or "
        "benchmarks/out/ with --quick)",
    )
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=None)
    parser.add_argument(
        "--rigorous", action="store_true", help="pyperf --rigorous instead of its --fast"
    )
    return parser.parse_args(argv)


def _say(message: str) -> None:
    print(f"[benchmarks {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    guard()  # loopback only, from here on
    from benchmarks import machine, round_trips, tables

    sections = args.only or (QUICK_SECTIONS if args.quick else SECTIONS)
    out: Path = args.out or (REPO / "benchmarks" / ("out" if args.quick else ""))
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": machine.describe(), "quick": args.quick}
    results["machine"]["load_average_start"] = [round(x, 2) for x in machine.load_average()]
    failed = False

    if "requests" in sections:
        from benchmarks import request_counts
        from benchmarks.serve import EmulatorHost

        _say("requests per operation (moto, fake-gcs-server)")
        with EmulatorHost() as host:
            rows = request_counts.run(host)
        results["requests"] = [row.as_dict() for row in rows]
        failed |= not all(row.met for row in rows)

    if "roundtrips" in sections:
        _say("round trips per operation (delaying proxy)")
        delay = 0.0 if args.quick else round_trips.DELAY
        results["roundtrips"] = round_trips.run(delay=delay, repeat=1 if args.quick else 5)
        failed |= not all(row["met"] for row in results["roundtrips"])

    timed = [s for s in ("cpu", "throughput", "coldstart") if s in sections]
    if timed:
        from benchmarks import pyperf_runs

        with pyperf_runs.Servers() as servers:
            for section in timed:
                _say(f"{section} (pyperf)")
                results[section] = pyperf_runs.run(
                    section, servers, rigorous=args.rigorous, say=_say
                )
                # Kept as each section ends, so a later failure loses nothing measured.
                (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")

    results["machine"]["load_average_end"] = [round(x, 2) for x in machine.load_average()]
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    markdown = tables.render(results)
    target = out / "RESULTS.md"
    if target.exists() and BEGIN in target.read_text():
        text = target.read_text()
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1] if END in rest else ""
        target.write_text(f"{head}{BEGIN}\n{markdown}\n{END}{tail}")
    else:
        target.write_text(f"# sessionstore benchmark tables\n\n{BEGIN}\n{markdown}\n{END}\n")
    _say(f"wrote {out / 'results.json'} and {target}")
    if failed:
        _say("a request or round-trip count differs from its target")
    return 1 if failed else 0


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The loopback-only environment for child processes, plus ``extra``."""
    env = loopback_environment()
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "tests")])
    env.update(extra or {})
    return env


def run_child(args: list[str], env: dict[str, str]) -> str:
    with tempfile.TemporaryFile("w+") as errors:
        done = subprocess.run(
            args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=errors, text=True, check=False
        )
        if done.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"{args[:4]} failed:\n{errors.read()[-4000:]}")
    return done.stdout


if __name__ == "__main__":
    sys.exit(main())
