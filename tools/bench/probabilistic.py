"""Probabilistic benchmark: a quantile-head model against the climatological-quantile baseline,
CRPS and the 80 % central interval's coverage and width, on the test split.

Every run trains with the same :class:`TrainConfig` and CPU budget as the accuracy benchmark
(``tools/bench/accuracy.py``, whose data setup and cache helpers it reuses), with a quantile
head at the deciles (pinball loss); the baseline is fitted on the training split at the same
levels and scored through the same accumulator. Finished runs are appended to a JSON-lines
cache; ``--report`` rewrites the markdown from it.

    OMP_NUM_THREADS=1 nice -n 10 python tools/bench/probabilistic.py \\
        --datasets synthetic-traffic los-loop beijing-pm25 noaa-weather --seeds 0 1 2 \\
        --budget 60 --threads 1
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))
from accuracy import _mean_std, append, metrics, setup

from stgraph._atomic import atomic_write_text
from stgraph._threads import configure_threads
from stgraph.engine import Forecaster, RunConfig, TrainConfig
from stgraph.engine.report import pick_horizons

RESULTS = Path(__file__).parent / "results"
BASELINE = "climatological_quantile"
PROB = ("crps", "coverage", "width")


def run_cell(
    dataset: str, model: str, seed: int, data: Any, overrides: dict, train: TrainConfig
) -> dict:
    """Train one quantile-head model under the budget; score it and the baseline once."""
    head = {"kind": "quantile"}
    config = RunConfig.create(dataset, model, protocol=overrides, train=train, seed=seed, head=head)
    fc = Forecaster.build(config, data)
    summary = fc.fit(data)
    prob = fc.evaluate_probabilistic(data, "test", 256)
    return {
        "dataset": dataset,
        "model": model,
        "seed": seed,
        "levels": list(fc.quantile_levels),
        "prob": prob,
        "mae": metrics(fc.predict, data, fc.protocol)["overall"]["mae"],
        "epochs": summary["epochs"],
        "cpu_seconds": summary["cpu_seconds"],
        "budget": train.time_budget,
        "threads": torch.get_num_threads(),
    }


def _values(cells: list[dict], method: str, metric: str, step: str | None) -> list[float]:
    blocks = [c["prob"][method] for c in cells]
    picked = [b["overall"] if step is None else b["horizons"][step] for b in blocks]
    return [v for p in picked if (v := p[metric]) is not None]


def verdict(group: list[dict]) -> list[str]:
    """Overall and per reported step: is the model's CRPS below the baseline's by more than
    its seed-to-seed spread (with one seed: only whether it is below)?"""
    steps = [str(s) for s in pick_horizons(len(group[0]["prob"]["model"]["horizons"]))]
    lines = []
    for step in [None, *steps]:
        model = _values(group, "model", "crps", step)
        base = _values(group[:1], BASELINE, "crps", step)[0]
        mean = statistics.mean(model)
        where = "overall" if step is None else f"step {step}"
        if len(model) > 1:
            spread = statistics.stdev(model)
            ok = base - mean > spread
            text = f"{mean:.3f} ± {spread:.3f} ({len(model)} seeds) vs {base:.3f}: " + (
                "beaten beyond the seed spread" if ok else "NOT beaten beyond the seed spread"
            )
        else:
            text = f"{mean:.3f} (1 seed, no spread) vs {base:.3f}: " + (
                "lower" if mean < base else "NOT lower"
            )
        lines.append(f"- CRPS {where}: model {text}")
    return lines


def render(cells: list[dict]) -> str:
    """The markdown report from all cached runs."""
    commands = sorted({c.get("command", "?") for c in cells})
    lines = [
        "# Probabilistic forecasts: quantile head vs climatological quantiles (test split)",
        "",
        *(f"- command: `{c}`" for c in commands),
        "- model: registered defaults, quantile head at the deciles 0.1 ... 0.9, pinball loss;"
        " the point forecast is the median",
        "- baseline: per node and seasonal slot, empirical training-split quantiles at the same"
        " levels (coarser slot, then the node's overall quantiles, for slots with < 10 values)"
        "; it sees no recent observation, so beating it shows the skill the model draws from"
        " the recent window and the graph (its coverage shows how calibrated each is)",
        "- CRPS: 2 x mean pinball loss over the 9 levels (the quantile approximation, the same"
        " for both rows); coverage / width: the 80 % central interval [q0.1, q0.9]",
        f"- machine: {platform.processor() or platform.machine()}, torch {torch.__version__};"
        " shared with other jobs (the budget is CPU time, so the work per run is the same)",
        "",
    ]
    for dataset in sorted({c["dataset"] for c in cells}):
        group = [c for c in cells if c["dataset"] == dataset]
        steps = [str(s) for s in pick_horizons(len(group[0]["prob"]["model"]["horizons"]))]
        budget = {(c["budget"], c["threads"]) for c in group}
        seeds = sorted(c["seed"] for c in group)
        text = ", ".join(f"{b:g} CPU s on {t} thread(s)" for b, t in sorted(budget))
        lines += [f"## {dataset}", "", f"Training budget per run: {text}; seeds {seeds}.", ""]
        head = ["method"] + [f"{m}@{s}" for m in PROB for s in [*steps, "all"]] + ["MAE all"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for method in ("model", BASELINE):
            name = f"{group[0]['model']} (quantile)" if method == "model" else BASELINE
            row = [name]
            for m in PROB:
                for s in [*steps, None]:
                    vals = _values(group if method == "model" else group[:1], method, m, s)
                    row.append(_mean_std(vals))
            maes = [c["mae"] for c in group]
            row.append(_mean_std(maes) if method == "model" else "-")
            lines.append("| " + " | ".join(row) + " |")
        lines += ["", *verdict(group), ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--datasets", nargs="*", default=[])
    ap.add_argument("--model", default="stid")
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    ap.add_argument("--budget", type=float, default=60.0, help="training CPU seconds per run")
    ap.add_argument("--max-batches", type=int, default=50, help="training batches per epoch")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--cache", default=str(RESULTS / "probabilistic.jsonl"))
    ap.add_argument("--out", default=str(RESULTS / "probabilistic.md"))
    ap.add_argument("--report", action="store_true", help="only rewrite the table from the cache")
    args = ap.parse_args()
    configure_threads(args.threads)
    cache = Path(args.cache)
    train = TrainConfig(
        epochs=1000,
        max_batches=args.max_batches,
        time_budget=args.budget,
        progress=False,
    )
    cells = [json.loads(x) for x in cache.read_text().splitlines() if x] if cache.exists() else []
    done = {(c["dataset"], c["model"], c["seed"]) for c in cells}
    command = "OMP_NUM_THREADS=1 nice -n 10 python tools/bench/probabilistic.py " + " ".join(
        sys.argv[1:]
    )
    for dataset in [] if args.report else args.datasets:
        data, overrides, _ = setup("card", dataset, args.data_dir)
        for seed in args.seeds:
            if (dataset, args.model, seed) in done:
                continue
            cell = run_cell(dataset, args.model, seed, data, overrides, train)
            cell["command"] = command
            append(cache, cell)
            cells.append(cell)
            o = cell["prob"]["model"]["overall"]
            print(
                f"{dataset} seed {seed}: CRPS {o['crps']:.3f}, cov {o['coverage']:.3f}", flush=True
            )
    atomic_write_text(Path(args.out), render(cells))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
