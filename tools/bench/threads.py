"""Thread settings on a shared machine: seconds per training step with 1 thread and with all
cores, OpenMP's default wait policy against ``OMP_WAIT_POLICY=PASSIVE``, on an idle machine
and next to one CPU-bound process; plus stgraph's automatic choice (the cores free now).

Each configuration runs in its own process (the wait policy is read when torch loads), timing
the quickstart's model, the registered ``dcrnn`` (hidden 32), on ``synthetic-traffic``
batches of 64: forward, backward and AdamW, after one warm-up step. The loaded rows run a
``while True: pass`` process beside the measurement. Ratios are against the idle 1-thread
row with the default policy, measured in the same run.

    python tools/bench/threads.py [--steps 10] [--out tools/bench/results/threads.md]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def child(threads: str, steps: int) -> dict[str, float]:
    """Time ``steps`` training steps in this process (run with the wanted environment)."""
    from stgraph._threads import configure_threads

    n = configure_threads(None if threads == "auto" else int(threads))
    import torch

    from stgraph.data import load_dataset
    from stgraph.engine import Forecaster, RunConfig
    from stgraph.engine.metrics import masked_mae

    data = load_dataset("synthetic-traffic")
    cfg = RunConfig.create("synthetic-traffic", "dcrnn", hparams={"hidden": 32})
    fc = Forecaster.build(cfg, data)
    windows = fc.protocol.windows(data, "train")
    opt = torch.optim.AdamW(fc.model.parameters(), lr=1e-3)
    times = []
    for i, batch in enumerate(windows.loader(64, shuffle=True, generator=torch.Generator())):
        if i > steps:
            break
        t0 = time.perf_counter()
        loss = fc.loss(batch, masked_mae)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i > 0:  # the first step warms up
            times.append(time.perf_counter() - t0)
    return {"threads": n, "median_s": statistics.median(times), "max_s": max(times)}


def run(threads: str, wait: str | None, loaded: bool, steps: int) -> dict[str, float]:
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    if wait:
        env["OMP_WAIT_POLICY"] = wait
    hog = None
    if loaded:
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(2.0)
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--child", threads, "--steps", str(steps)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=1800,
        )
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--out", default="tools/bench/results/threads.md")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.steps)))
        return
    cores = len(os.sched_getaffinity(0))
    rows = []
    for loaded in (False, True):
        for wait in (None, "PASSIVE"):
            for threads in ("1", str(cores), "auto"):
                if threads == "auto" and wait is not None:
                    continue
                r = run(threads, wait, loaded, args.steps)
                rows.append((loaded, wait or "default (spin)", threads, r))
                print(rows[-1], flush=True)
    base = next(r for ld, w, t, r in rows if not ld and w.startswith("default") and t == "1")
    base = base["median_s"]
    lines = [
        f"# Threads on a shared {cores}-core machine",
        "",
        f"`python tools/bench/threads.py --steps {args.steps}` — registered `dcrnn` (hidden 32), "
        "synthetic-traffic, batch 64, one training step (forward + backward + AdamW), median "
        "of the steps after a warm-up. Ratio: step time / idle 1-thread default-policy step "
        "time. `auto` is stgraph's default (the cores free when the process starts).",
        "",
        "| machine | OMP_WAIT_POLICY | threads asked | threads used | s/step (median) "
        "| s/step (max) | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for loaded, wait, threads, r in rows:
        lines.append(
            f"| {'1 CPU-bound process beside' if loaded else 'idle'} | {wait} | {threads} | "
            f"{r['threads']} | {r['median_s']:.3f} | {r['max_s']:.3f} | "
            f"{r['median_s'] / base:.2f} |"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
