"""Shared by the path-against-path benchmarks: time one step and its peak memory, each path
in a fresh process, and print the ratios against a reference path."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

from window_memory import PeakRSS, rss


def timed(step: Callable[[], None], repeat: int) -> dict[str, float]:
    """Peak resident-memory growth (bytes) of the first ``step()`` and the median seconds of
    ``repeat`` more."""
    base = rss()
    with PeakRSS() as peak:
        step()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return {"seconds": statistics.median(times), "peak": peak.peak - base}


def each_in_a_fresh_process(
    script: str, paths: Sequence[str], flags: list[str]
) -> dict[str, dict[str, float]]:
    """``python script --path P *flags`` for every path ``P``; its last printed line is the
    JSON of :func:`timed`."""
    out = {}
    for path in paths:
        run = subprocess.run(
            [sys.executable, script, "--path", path, *flags],
            capture_output=True,
            text=True,
            check=True,
        )
        out[path] = json.loads(run.stdout.strip().splitlines()[-1])
    return out


def ratio_table(res: dict[str, dict[str, float]], ref: str) -> list[str]:
    """Markdown rows: seconds and peak MB of every path, and its ratios to ``ref``'s."""
    lines = [
        f"| path | seconds | speed-up over {ref} | peak MB | memory saving over {ref} |",
        "|---|---|---|---|---|",
    ]
    r0 = res[ref]
    for path, r in res.items():
        lines.append(
            f"| {path} | {r['seconds']:.3f} | {r0['seconds'] / r['seconds']:.2f}x | "
            f"{r['peak'] / 2**20:,.0f} | {r0['peak'] / max(r['peak'], 1):.2f}x |"
        )
    return lines
