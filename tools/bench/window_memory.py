"""Memory held by training windows, relative to the raw ``[T, N, F]`` array, and loader speed.

A generated series of one year of 5-minute steps on 207 sensors with 2 features (105,120 x
207 x 2 float32, 174 MB) goes through the normal path: ``SpatioTemporalData(...)``, then
``Protocol(...).fit(data).windows(data, "train")``; the caller then drops its own array, as a
loader does. Reported, each as a multiple of the raw array's bytes:

* ``held``: bytes of the distinct tensor storages reachable from the data and the windows
  (values, mask, covariates, window starts; a storage shared with the raw array counts once);
* ``RSS``: resident-set growth from before the raw array was made to after the windows are
  built and the raw array is dropped (what the process keeps for the data);
* ``peak``: the highest resident-set growth above the raw array (sampled every millisecond)
  while the data is built (``SpatioTemporalData``), and while the protocol is fitted and the
  windows are made.

and the seconds one epoch of the training loader takes (``B = 64``, shuffled, every batch
gathered). Two series: fully observed, and with 5% of entries missing (NaN).

    python tools/bench/window_memory.py --threads 2
    python tools/bench/window_memory.py --threads 2 --write   # results/window_memory.md
"""

from __future__ import annotations

import argparse
import datetime
import gc
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout's stgraph

from stgraph.data import Protocol, SpatioTemporalData
from stgraph.graph import build

RESULTS = Path(__file__).resolve().parent / "results" / "window_memory.md"
PAGE = 4096


def rss() -> int:
    """Resident bytes of this process (``/proc/self/statm``)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE


class PeakRSS:
    """Highest :func:`rss` seen by a 1 ms sampling thread while the block runs."""

    def __enter__(self) -> PeakRSS:
        self.peak, self._stop = rss(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss())
            time.sleep(0.001)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())


def storages(*objs: object) -> int:
    """Bytes of the distinct tensor and array storages among the attributes of ``objs``."""
    seen: dict[int, int] = {}
    for obj in objs:
        for val in vars(obj).values():
            if isinstance(val, torch.Tensor):
                st = val.untyped_storage()
                seen[st.data_ptr()] = st.nbytes()
            elif isinstance(val, np.ndarray):
                base = val if val.base is None else val.base
                seen[np.asarray(base).ctypes.data] = np.asarray(base).nbytes
    return sum(seen.values())


def series(steps: int, nodes: int, missing: float, seed: int = 0) -> np.ndarray:
    """A daily-periodic float32 series with noise, ``missing`` of the entries NaN; built in
    blocks of 4,096 steps so no temporary outlives a block."""
    rng = np.random.default_rng(seed)
    raw = np.empty((steps, nodes, 2), np.float32)
    phase = rng.uniform(0, 2 * np.pi, (1, nodes, 1))
    for a in range(0, steps, 4096):
        b = min(a + 4096, steps)
        day = np.arange(a, b)[:, None, None] * (2 * np.pi / 288)
        block = 60 + 10 * np.sin(day + phase) + rng.standard_normal((b - a, nodes, 2))
        if missing:
            block[rng.random(block.shape) < missing] = np.nan
        raw[a:b] = block
    return raw


def measure(steps: int, nodes: int, missing: float, batch: int) -> dict[str, float]:
    """Build data and training windows from a fresh raw array; memory ratios and loader s."""
    rng = np.random.default_rng(1)
    pts = np.column_stack([rng.uniform(-118.5, -118.0, nodes), rng.uniform(34.0, 34.3, nodes)])
    graph = build("knn", pts, k=8)
    ts = pd.date_range("2024-01-01", periods=steps, freq="5min")
    gc.collect()
    before = rss()
    raw = series(steps, nodes, missing)
    raw_bytes = raw.nbytes
    with_raw = rss()
    with PeakRSS() as pk_data:
        data = SpatioTemporalData(raw, None, ts, graph, ("speed", "flow"), name="year")
    with PeakRSS() as pk:
        windows = Protocol("year").fit(data).windows(data, "train")
    del raw
    gc.collect()
    held = storages(data, windows)
    after = rss()
    t0 = time.perf_counter()
    n = 0
    for b in windows.loader(batch, shuffle=True, generator=torch.Generator().manual_seed(0)):
        n += len(b)
    epoch = time.perf_counter() - t0
    return {
        "held": held / raw_bytes,
        "rss": (after - before) / raw_bytes,
        "peak_data": (pk_data.peak - with_raw) / raw_bytes,
        "peak": (pk.peak - with_raw) / raw_bytes,
        "epoch_s": epoch,
        "windows": n,
        "raw_mb": raw_bytes / 1e6,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=105_120)
    p.add_argument("--nodes", type=int, default=207)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--missing", type=float, default=None, help=argparse.SUPPRESS)
    p.add_argument("--write", action="store_true", help=f"write {RESULTS.name}")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.missing is not None:  # one case per fresh process, so RSS starts clean
        r = measure(args.steps, args.nodes, args.missing, args.batch)
        print(" ".join(f"{k}={v}" for k, v in r.items()))
        return
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    lines = [
        "| series | raw MB | held / raw | RSS / raw | peak extra / raw: data | fit + windows "
        "| loader s / epoch | windows |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for missing in (0.0, 0.05):
        cmd = [sys.executable, __file__, "--missing", str(missing), "--threads", str(args.threads)]
        cmd += ["--steps", str(args.steps), "--nodes", str(args.nodes), "--batch", str(args.batch)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()
        r = {k: float(v) for k, v in (kv.split("=") for kv in out)}
        label = "fully observed" if missing == 0 else f"{missing:.0%} missing"
        lines.append(
            f"| {label} | {r['raw_mb']:.0f} | {r['held']:.2f} | {r['rss']:.2f} "
            f"| {r['peak_data']:.2f} | {r['peak']:.2f} "
            f"| {r['epoch_s']:.1f} | {int(r['windows']):,} |"
        )
    note = (
        f"{datetime.date.today()}, torch {torch.__version__}, {args.threads} threads, "
        f"T={args.steps:,}, N={args.nodes}, F=2, B={args.batch}; load average {load}"
    )
    table = "\n".join(lines)
    print(note + "\n\n" + table)
    if args.write:
        cmd = "python tools/bench/window_memory.py " + " ".join(sys.argv[1:])
        RESULTS.write_text(f"# Window memory\n\n`{cmd}`\n\n{note}\n\n{table}\n")


if __name__ == "__main__":
    main()
