"""The latency-against-size plot (PNG, matplotlib's Agg backend: no display needed)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from benchmarks.common import human_size

if TYPE_CHECKING:
    from pathlib import Path

    from benchmarks.scaling import ScalingRow

__all__ = ["latency_plot"]

_TITLES = {
    "memory": "memory://",
    "filesystem": "file:// (durable: fsync + rename + dir fsync)",
    "s3": "S3 (moto, loopback)",
    "gcs": "GCS (fake-gcs-server, loopback)",
}


def latency_plot(rows: list[ScalingRow], path: Path, subtitle: str) -> None:
    """One panel per store: p50 save and load against encoded size, log-log, with the
    bare baseline (raw SDK call, bare write/read) dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stores = [name for name in _TITLES if any(row.store == name for row in rows)]
    columns = 2
    lines = math.ceil(len(stores) / columns)
    figure, axes = plt.subplots(lines, columns, figsize=(11, 4.2 * lines), squeeze=False)
    colours = {"save": "tab:blue", "load": "tab:orange"}
    for index, store in enumerate(stores):
        axis = axes[index // columns][index % columns]
        for operation in ("save", "load"):
            mine = sorted(
                (row for row in rows if row.store == store and row.operation == operation),
                key=lambda row: row.size,
            )
            sizes = [row.size / 1024 for row in mine]
            axis.plot(
                sizes,
                [row.lib_p50 * 1e3 for row in mine],
                marker="o",
                color=colours[operation],
                label=f"sessionstore {operation}",
            )
            baseline = [row.raw_p50 for row in mine]
            if all(value is not None for value in baseline):
                axis.plot(
                    sizes,
                    [value * 1e3 for value in baseline if value is not None],
                    marker="x",
                    linestyle="--",
                    color=colours[operation],
                    alpha=0.7,
                    label=f"bare {operation}",
                )
        axis.set_xscale("log", base=2)
        axis.set_yscale("log")
        ticks = sorted({row.size for row in rows})
        axis.set_xticks([size / 1024 for size in ticks], [human_size(size) for size in ticks])
        axis.set_title(_TITLES[store], fontsize=10)
        axis.set_xlabel("encoded snapshot size")
        axis.set_ylabel("p50 latency (ms)")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    for index in range(len(stores), lines * columns):
        axes[index // columns][index % columns].set_visible(False)
    figure.suptitle(f"sessionstore: latency against snapshot size\n{subtitle}", fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
