"""sessionstore benchmarks: request counts, latency, memory and cold start, loopback only.

Run from the repository root::

    python -m benchmarks            # full run (~5 min), writes benchmarks/RESULTS.md + PNG
    python -m benchmarks --quick    # smoke run (~30 s), writes benchmarks/out/

One module per measurement: :mod:`benchmarks.request_counts`, :mod:`benchmarks.latency`,
:mod:`benchmarks.filesystem`, :mod:`benchmarks.scaling`, :mod:`benchmarks.coldstart`,
:mod:`benchmarks.concurrency`; :mod:`benchmarks.report` writes the results.
"""

from __future__ import annotations
