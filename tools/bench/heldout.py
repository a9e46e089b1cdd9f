"""Held-out-station benchmark: train on 80 % of the NOAA stations, forecast at the 20 % never
seen, against inverse-distance weighting (IDW) of the observed stations.

Each seed draws its own random node split (``split_seed = seed``) and trains the model with
the same CPU-time budget (``TrainConfig.time_budget``: CPU seconds of training + validation
of this process, whatever else the machine runs). Rows (see :mod:`stgraph.engine.heldout`):
the model; IDW of the observed stations' last observed values (a forecast with the model's
information); IDW of their training-split climatology; IDW of their *true* values at the
target times (an oracle: it reads the future). Masked MAE / RMSE per horizon step at the
held-out stations, test split, all three features pooled (Tmax, Tmin in degF, Precip in
inches: temperatures dominate).

    nice -n 10 env OMP_NUM_THREADS=1 STGRAPH_DATA=/work/shared/data \\
        python tools/bench/heldout.py --model tgcn --seeds 0 1 2 --budget 150
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from stgraph._atomic import atomic_write_text
from stgraph.engine import TrainConfig
from stgraph.engine.heldout import heldout_run

RESULTS = Path(__file__).parent / "results"


#: the measurement before the IDW input fill, same command and budget with hidden inputs 0
#: (``--input-fill zero`` reruns it)
def _mean_row(runs: list[dict[str, Any]], row: str, h: str, metric: str) -> str:
    vals = [r["results"][row]["horizons"][h][metric] for r in runs]
    mean = statistics.fmean(vals)
    spread = f" ± {statistics.stdev(vals):.2f}" if len(vals) > 1 else ""
    return f"{mean:.2f}{spread}"


def report(runs: list[dict[str, Any]], args: argparse.Namespace, command: str) -> str:
    """Markdown: settings, then mean ± std over seeds per row and horizon step, then the
    per-seed tables."""
    first = runs[0]
    horizon = len(first["results"][args.model]["horizons"])
    steps = [str(h) for h in range(1, horizon + 1)]
    lines = [
        "# Held-out stations: NOAA daily weather (kriging forecast vs IDW)",
        "",
        f"Command: `{command}`",
        "",
        f"- dataset `{first['dataset']}`: {first['held_out'] + first['observed']} stations, "
        f"{first['held_out']} held out at random per seed (20 %), graph of all stations "
        "(kNN, k = 8, great-circle distances, as the loader builds it)",
        f"- model `{args.model}` {json.dumps(args.hparams)}, input node dropout "
        f"{args.input_drop}, hidden inputs filled by `{args.input_fill}`"
        + (
            " (IDW of the visible stations' inputs at the same step)"
            if args.input_fill == "idw"
            else " (0 after scaling)"
        )
        + f", lookback {first['config']['protocol']['lookback']}, horizon "
        f"{horizon} days, chronological split {first['config']['protocol']['split']}",
        f"- CPU budget per run: {args.budget:g} CPU seconds of training + validation "
        f"(TrainConfig.time_budget), batch size {args.batch_size}, OMP_NUM_THREADS=1, "
        f"torch {torch.__version__}, Python {platform.python_version()}, {platform.machine()}",
        f"- seeds {args.seeds} (weights, shuffling and the node split)",
        "- IDW: power 2 on great-circle distances, all observed stations with a value",
        "- metrics: masked, on the held-out stations' observed test targets only; the three "
        "features pooled",
        "",
        "## MAE, mean ± std over seeds",
        "",
        "| method | " + " | ".join(f"day {h}" for h in steps) + " |",
        "|---|" + "---:|" * len(steps),
    ]
    rows = list(first["results"])
    for row in rows:
        cells = [_mean_row(runs, row, h, "mae") for h in steps]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    lines += ["", "## RMSE, mean ± std over seeds", ""]
    lines += ["| method | " + " | ".join(f"day {h}" for h in steps) + " |"]
    lines += ["|---|" + "---:|" * len(steps)]
    for row in rows:
        cells = [_mean_row(runs, row, h, "rmse") for h in steps]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    lines += ["", "## Verdict (MAE)", ""]
    for h in steps:
        means = {
            r: statistics.fmean(x["results"][r]["horizons"][h]["mae"] for x in runs) for r in rows
        }
        fair = {r: v for r, v in means.items() if "oracle" not in r}
        best = min(fair, key=fair.__getitem__)
        lines.append(
            f"- day {h}: best forecast `{best}` ({fair[best]:.2f}); {args.model} "
            f"{means[args.model]:.2f}, {means[args.model] / fair[best]:.2f}x the best"
            + ("" if best == args.model else f" (IDW wins at day {h})")
        )
    lines += ["", "## Per seed", ""]
    for seed, r in zip(args.seeds, runs, strict=True):
        t = r["train"]
        lines += [
            f"Seed {seed}: {t['epochs']} epochs (best {t['best_epoch']}), "
            f"{t['cpu_seconds']:.0f} CPU s, {r['wall_seconds']:.0f} s wall",
            "",
            "```",
            r["table"],
            "```",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the seeds and write ``results/heldout.md``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="tgcn")
    p.add_argument("--hparams", type=json.loads, default={"hidden": 32, "persistence": True})
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--budget", type=float, default=150.0, help="CPU seconds per run")
    p.add_argument("--held-out", type=float, default=0.2)
    p.add_argument("--input-drop", type=float, default=0.5)
    p.add_argument("--input-fill", choices=("idw", "zero"), default="idw")
    p.add_argument("--horizon", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--out", type=Path, default=RESULTS / "heldout.md")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    runs = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        res = heldout_run(
            "noaa-weather",
            args.model,
            held_out=args.held_out,
            split_seed=seed,
            input_drop=args.input_drop,
            input_fill=args.input_fill,
            hparams=args.hparams,
            protocol_overrides={"horizon": args.horizon},
            train=TrainConfig(
                epochs=100,
                batch_size=args.batch_size,
                time_budget=args.budget,
                progress=False,
                seed=seed,
            ),
            seed=seed,
        )
        runs.append({**res.metrics, "table": res.table, "wall_seconds": time.perf_counter() - t0})
        print(f"seed {seed}\n{res.table}", flush=True)
    given = sys.argv[1:] if argv is None else argv
    command = "python tools/bench/heldout.py " + " ".join(shlex.quote(a) for a in given)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    raw = {"command": command, "args": {k: str(v) for k, v in vars(args).items()}, "runs": runs}
    atomic_write_text(args.out.with_suffix(".json"), json.dumps(raw, indent=1) + "\n")
    atomic_write_text(args.out, report(runs, args, command) + "\n")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
