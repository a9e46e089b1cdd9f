"""Scale: peak memory, time to first batch and node-batched training throughput on series
larger than memory (N = 1,000 and 10,000 sensors, one year of 5-minute steps on disk), and
1 against 2 data-parallel processes (:func:`stgraph.engine.launch.launch`, as ``--nproc 2``).

The series are written once by :func:`stgraph.data.io.synthetic_large.generate_large_synthetic`
into ``~/.cache/stgraph-bench/large-<N>x<days>`` (reused when present; 10,000 x 365 days is
4.9 GiB, about 2-4 minutes) and opened memory-mapped. Every case runs in a fresh child process
with its threads pinned (``OMP_WAIT_POLICY=PASSIVE``) and reports its peak RSS (``ru_maxrss``,
summed over the ranks of a 2-process case), the resident anonymous and file-backed (mapped
series pages) bytes at the end, and:

* ``first batch s``: open the series, fit the protocol (scaler statistics over the training
  split, in time chunks; in brackets), build the model, cut the node partition and its halos,
  gather the first training batch;
* ``train s``: ``--steps`` node-batched training steps (one epoch capped by ``max_batches``)
  of :class:`stgraph.engine.Trainer`; its validation (part by part over all nodes, on a
  validation split shrunk to ``SPLIT[1]`` of the year) is timed apart and left out;
  ``cores busy`` is the CPU seconds of those steps over their wall seconds.

``windows/s`` counts windows of the global batch; ``pairs/s`` window x core-node pairs (the
targets the loss covers). Epoch estimates divide the train windows of the default split (0.7
of the steps) times ``N`` by the measured pairs/s: ``year`` for this ``N``; ``LargeST``
(8,600 sensors, 5 years = 525,600 steps) at the 10,000-node cost per pair.

    python tools/bench/scale.py --write           # results/scale.md (about 5 minutes)
    python tools/bench/scale.py --nodes 1000 --days 30 --steps 10   # a quick look
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout's stgraph

import torch

from stgraph.data import open_series, register_series
from stgraph.data.io.synthetic_large import LargeSyntheticConfig, generate_large_synthetic
from stgraph.engine import Forecaster, RunConfig, Trainer
from stgraph.engine.launch import launch

RESULTS = Path(__file__).resolve().parent / "results" / "scale.md"
CACHE = Path(os.environ.get("STGRAPH_BENCH_CACHE", Path.home() / ".cache" / "stgraph-bench"))
SPLIT = (0.996, 0.002, 0.002)  # training steps are capped; a small validation split bounds eval
LARGEST = (8_600, 5 * 365 * 288)  # sensors, 5-minute steps
GIB = 2**30

# spawned ranks import this file as __mp_main__: register the cached series there too
for _d in sorted(CACHE.glob("large-*x*")) if CACHE.is_dir() else []:
    register_series(_d.name, _d)


def load() -> str:
    """``/proc/loadavg``'s 1/5/15-minute averages (the machine is shared)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def series(nodes: int, days: int) -> Path:
    """The cached series directory for ``nodes`` x ``days``, generated when missing."""
    path = CACHE / f"large-{nodes}x{days}"
    if not path.is_dir():
        CACHE.mkdir(parents=True, exist_ok=True)
        generate_large_synthetic(path, LargeSyntheticConfig(nodes=nodes, days=days))
    return path


class TimedTrainer(Trainer):
    """A :class:`Trainer` that adds up the wall and CPU seconds its validation passes take."""

    val_seconds = val_cpu = 0.0

    def validate(self) -> dict[str, Any]:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return super().validate()
        finally:
            self.val_seconds += time.perf_counter() - t0
            self.val_cpu += time.process_time() - c0


def peak_rss() -> int:
    """Peak resident bytes of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_kinds() -> list[float]:
    """Resident bytes now: anonymous and file-backed (mapped series pages, libraries)."""
    kb = dict(ln.split(":", 1) for ln in Path("/proc/self/status").read_text().splitlines())
    return [float(kb[k].split()[0]) * 1024 for k in ("RssAnon", "RssFile")]


def run_case(ctx: Any, case: dict[str, Any]) -> dict[str, Any]:
    """One measurement (in this process, or as one rank under :func:`launch`); with ``ctx``
    the seconds are the slowest rank's and RSS and CPU seconds are summed over the ranks."""
    t0 = time.perf_counter()
    data = open_series(case["path"], name=case["name"])
    train = dict(epochs=1, batch_size=case["batch"], max_batches=case["steps"], patience=1)
    train.update(node_batch=case["node_batch"], warmup_epochs=0, progress=False)
    config = RunConfig.create(case["name"], case["model"], protocol={"split": SPLIT}, train=train)
    forecaster = Forecaster.build(config, data)  # fits the protocol on the training split
    build_s = time.perf_counter() - t0
    batcher = forecaster.node_batcher
    halos = batcher.part_halos if batcher is not None else []  # partition + halos
    windows = forecaster.protocol.windows(data, "train")
    first = next(windows.loader(case["batch"], shuffle=True, generator=torch.Generator()))
    first_s, rss_first = time.perf_counter() - t0, peak_rss()
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = TimedTrainer(forecaster, data, config.train, run_dir)
        t1, c1 = time.perf_counter(), time.process_time()
        trainer.fit()
        fit_s, fit_cpu = time.perf_counter() - t1, time.process_time() - c1
    cores = [len(h.core_pos) for h in halos] or [data.num_nodes]
    m = [first_s, build_s, fit_s - trainer.val_seconds, trainer.val_seconds]
    a = [rss_first, peak_rss(), fit_cpu - trainer.val_cpu, *rss_kinds()]
    if ctx is not None:
        m = ctx.all_reduce(torch.tensor(m, dtype=torch.float64), "max").tolist()
        a = ctx.all_reduce(torch.tensor(a, dtype=torch.float64), "sum").tolist()
    b = first
    return {
        "first_s": m[0],
        "build_s": m[1],
        "train_s": m[2],
        "val_s": m[3],
        "rss_first": a[0],
        "rss": a[1],
        "train_cpu": a[2],
        "anon": a[3],
        "file": a[4],
        "val_windows": len(trainer.val_windows),
        "core": sum(cores) / len(cores),
        "halo": sum(h.num_nodes for h in halos) / max(len(halos), 1),
        "batch_bytes": b.x.nbytes + b.y.nbytes + b.x_mask.nbytes + b.y_mask.nbytes,
        "steps": min(case["steps"], windows.num_batches(case["batch"])),
        "threads": torch.get_num_threads(),
    }


def child(case: dict[str, Any]) -> dict[str, Any]:
    """Entry of a child process: the case on 1 process, or on ``nproc`` ranks."""
    if case["nproc"] == 1:
        torch.set_num_threads(case["threads"])
        return run_case(None, case)
    return launch(run_case, case["nproc"], case, threads=case["threads"])


def measure(case: dict[str, Any]) -> dict[str, Any]:
    """Run ``case`` in a fresh child process with its threads pinned."""
    pin = {f"{k}_NUM_THREADS": str(case["threads"]) for k in ("OMP", "MKL", "OPENBLAS")}
    env = dict(os.environ, **pin, OMP_WAIT_POLICY="PASSIVE")
    cmd = [sys.executable, __file__, "--child", json.dumps(case)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    r = json.loads(out.strip().splitlines()[-1])
    r.update(case)
    r["windows_s"] = r["steps"] * case["batch"] / r["train_s"]
    r["pairs_s"] = r["windows_s"] * r["core"]
    r["val_pairs_s"] = r["val_windows"] * case["nodes"] / r["val_s"]
    print(json.dumps(r), file=sys.stderr)
    return r


def epoch_s(pairs_s: float, nodes: int, steps: int, share: float = 0.7) -> float:
    """Seconds to pass every window of a ``share`` split (L = H = 12) over ``nodes`` at
    ``pairs_s`` window x node pairs per second."""
    return (round(share * steps) - 23) * nodes / pairs_s


def row(label: str, r: dict[str, Any], steps_year: int) -> str:
    """One table row."""
    batch = r["batch_bytes"]
    year = epoch_s(r["pairs_s"], r["nodes"], steps_year)
    big = f"{epoch_s(r['pairs_s'], *LARGEST) / 3600:.0f}" if r["nodes"] >= 10_000 else ""
    return (
        f"| {label} | {r['nodes']:,} | {r['core']:.0f} / {r['halo']:.0f} "
        f"| {r['nproc']} x {r['threads']} | {r['first_s']:.1f} ({r['build_s']:.1f}) "
        f"| {r['rss_first'] / GIB:.2f} / {r['rss'] / GIB:.2f} | {batch / 2**20:.1f} "
        f"| {r['rss'] / batch:.0f} | {r['anon'] / GIB:.2f} / {r['file'] / GIB:.2f} "
        f"| {r['train_s']:.1f} | {r['train_cpu'] / r['train_s']:.2f} "
        f"| {r['windows_s']:.1f} | {r['pairs_s']:,.0f} | {year / 3600:.1f} | {big} "
        f"| {r['val_pairs_s']:,.0f} |"
    )


HEAD = (
    "| case | N | nodes per step: core / with halo | procs x threads | first batch s (open "
    "+ protocol fit) | peak RSS GiB: first batch / end | batch MiB | peak RSS / batch | RSS "
    "GiB at end: anon / file | train s | cores busy | windows/s | pairs/s | epoch h: year "
    "| epoch h: LargeST | validation pairs/s |\n" + "|---" * 16 + "|"
)


def verdicts(res: dict[tuple[int, int, int], dict[str, Any]], steps_year: int) -> list[str]:
    """The issue's goals, met or not, and the validation cost."""
    lines = []
    for (n, nproc, threads), r in res.items():
        if n >= 10_000 and nproc == 1:
            ok = "met" if r["rss"] < 4 * GIB else "NOT met"
            val = epoch_s(r["val_pairs_s"], n, steps_year, 0.1) / 3600
            lines.append(
                f"- {n:,} nodes, {nproc} x {threads} threads: peak RSS {r['rss'] / GIB:.2f} GiB "
                f"(goal < 4 GiB): {ok}. One validation pass over a 0.1 split of the year, part "
                f"by part over all nodes, would take about {val:.1f} h at the measured rate."
            )
        one, two = res.get((n, 1, 1)), res.get((n, 2, 1))
        if nproc == 2 and one and two:
            x = two["windows_s"] / one["windows_s"]
            ok = "met" if x >= 1.6 else "NOT met"
            lines.append(
                f"- N={n:,}: 2 processes x 1 thread train {x:.2f}x the windows/s of 1 process x "
                f"1 thread (scaling efficiency {x / 2:.0%}; goal >= 1.6x): {ok}. Cores busy "
                f"while training: {one['train_cpu'] / one['train_s']:.2f} against "
                f"{two['train_cpu'] / two['train_s']:.2f} (of 2)."
            )
    return lines


def readme(res: dict[tuple[int, int, int], dict[str, Any]], steps_year: int) -> str:
    """The paragraph for the README, from the 10,000-node and 1 vs 2 process cases."""
    big, one, two = res.get((10_000, 1, 2)), res.get((1_000, 1, 1)), res.get((1_000, 2, 1))
    if not (big and one and two):
        return "(needs the default cases: --nodes 1000 10000)"
    x, (b1, b2) = (
        two["windows_s"] / one["windows_s"],
        (r["train_cpu"] / r["train_s"] for r in (one, two)),
    )
    return (
        "`python tools/bench/scale.py --write` trains `tgcn` on node batches (500 nodes + halo, "
        f"32 windows a step) of a memory-mapped 10,000-sensor year of 5-minute steps "
        f"({big['disk'] / GIB:.1f} GiB on disk): peak RSS {big['rss'] / GIB:.2f} GiB "
        f"({big['rss'] / big['batch_bytes']:.0f}x one batch's {big['batch_bytes'] / 2**20:.0f} "
        f"MiB), first batch after {big['first_s']:.0f} s (the protocol fit: "
        f"{big['build_s']:.0f} s), {big['pairs_s']:,.0f} window x node pairs/s on 2 threads, "
        f"so {epoch_s(big['pairs_s'], 10_000, steps_year) / 3600:.0f} h per epoch over the "
        f"year's training windows and about {epoch_s(big['pairs_s'], *LARGEST) / 3600:.0f} h "
        "for LargeST (8,600 sensors, 5 years) at the same cost per pair. At 1,000 sensors 2 "
        f"processes x 1 thread train {x:.2f}x the windows/s of one ({b2:.2f} cores busy "
        f"against {b1:.2f}; {two['windows_s'] / b2:.0f} windows/s per busy core against "
        f"{one['windows_s'] / b1:.0f}). Numbers: `tools/bench/results/scale.md`."
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, nargs="+", default=[1_000, 10_000])
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--steps", type=int, default=80, help="training steps per case")
    p.add_argument("--batch", type=int, default=32, help="global batch (windows)")
    p.add_argument("--model", default="tgcn")
    p.add_argument("--write", action="store_true", help=f"write {RESULTS.name}")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    before, steps_year = load(), args.days * 288
    rows, res = [], {}
    base = {"model": args.model, "batch": args.batch, "steps": args.steps}
    for n in args.nodes:
        path = series(n, args.days)
        mb = 200 if n < 5000 else 500
        disk = sum(f.stat().st_size for f in path.iterdir())
        case = dict(base, path=str(path), name=path.name, nodes=n, node_batch=mb, disk=disk)
        runs = [("1 process", 1, 2)]
        if n < 5000:
            runs += [("1 process", 1, 1), ("2 processes", 2, 1)]
        for label, nproc, threads in runs:
            res[n, nproc, threads] = r = measure(dict(case, nproc=nproc, threads=threads))
            rows.append(row(label, r, steps_year))
    note = (
        f"{datetime.date.today()}, torch {torch.__version__}, {os.cpu_count()} cores, model "
        f"{args.model}, node batches of 200 (N < 5,000) or 500 nodes (spectral parts), "
        f"B = {args.batch} windows (global), {args.steps} steps, L = H = 12, F = 1, "
        f"{args.days} days ({steps_year:,} steps), split {SPLIT}; load average before "
        f"{before}, after {load()}"
    )
    text = f"{note}\n\n{HEAD}\n" + "\n".join(rows) + "\n\n" + "\n".join(verdicts(res, steps_year))
    print(text)
    if args.write:
        cmd = "python tools/bench/scale.py " + " ".join(sys.argv[1:])
        tmp = RESULTS.with_suffix(".md.tmp")
        para = f"## For the README\n\n{readme(res, steps_year)}\n"
        tmp.write_text(f"# Scale\n\n`{cmd}`\n\n{text}\n\n{para}")
        tmp.replace(RESULTS)


if __name__ == "__main__":
    main()
