"""What the T-GCN authors' epoch-selection rule is worth, measured on one stgraph model.

The T-GCN authors' released training script (github.com/lehaifeng/T-GCN, ``main.py``) trains
on the whole 80 % training part for a fixed number of epochs, scores the **test** split after
every epoch, and reports the epoch with the lowest test RMSE (with that epoch's MAE). The
published rows (Zhao et al., IEEE T-ITS 2019, Table II) are therefore a minimum over epochs
on the test split. stgraph never selects on the test split: ``accuracy.py --refit`` trains a
fresh model on the training + validation windows for the epoch count that early stopping on
validation chose, and scores the test split once, after the last epoch.

This script repeats that refit for the seeds of a cached ``accuracy.py --refit`` row, with
the same settings and epoch count, and scores the test split after every epoch **without
using it for anything**. It reports, per seed and horizon (errors over steps 1..k, as the
paper scores a horizon):

* ``last epoch``: stgraph's refit score, what ``accuracy.md`` reports (it reproduces the
  cached row, which checks that the tracing changes nothing);
* ``min over epochs``: the authors' rule applied to the same run (selected on the test split,
  so optimistic by construction; a diagnostic, never a result).

    python tools/bench/tgcn_selection.py --dataset sz-taxi --model stid --lookback 192 \\
        --budget 300 --seeds 0 1 2 --threads 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from accuracy import RESULTS, budgeted, metrics, paper_targets, refit_config, setup
from accuracy_table import load_cache, upto
from tgcn_targets import PUBLISHED_TGCN, TGCN_PROTOCOL

from stgraph._atomic import atomic_write_text
from stgraph._threads import configure_threads
from stgraph.engine import Forecaster, RunConfig
from stgraph.engine.trainer import Trainer

OUT = RESULTS / "tgcn_selection.md"


class TestTracingTrainer(Trainer):
    """A :class:`Trainer` that also scores the test split after every epoch,
    ``test_score(forecast) -> metrics`` (e.g. :func:`accuracy.metrics` on the paper's
    targets), and keeps the metrics in ``trace``; the validation result it returns (and so
    every training decision) is the base class's."""

    def __init__(self, *args: Any, test_score: Callable[[Any], dict], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.test_score, self.trace = test_score, []

    def validate(self) -> dict[str, Any]:
        res = super().validate()
        self.trace.append(self.test_score(self.forecaster.predict))
        return res


def cached_refit(args: argparse.Namespace, cells: list[dict], seed: int) -> dict:
    """The cached ``accuracy.py --refit`` cell this run repeats (its settings and scores)."""
    for cell in cells:
        if (
            cell.get("protocol") == "tgcn"
            and cell.get("dataset") == args.dataset
            and cell.get("model") == args.model
            and cell.get("seed") == seed
            and cell.get("refit")
            and cell.get("lookback") == args.lookback
            and cell.get("budget") == args.budget
            and cell.get("loss") == "mse"
            and cell.get("monitor") == "rmse"
            and not cell.get("hparams")
            and cell.get("horizon") is None
        ):
            return cell
    raise SystemExit(
        f"no cached refit row for {args.dataset} {args.model} seed {seed} (lookback "
        f"{args.lookback}, {args.budget:g} s, mse loss, rmse stop): run accuracy.py --refit first"
    )


def trace_seed(args: argparse.Namespace, cell: dict, data: Any, overrides: dict) -> dict:
    """Refit the seed of ``cell`` (a cached refit row) as ``accuracy.py --refit`` does,
    tracing the test split per epoch."""
    seed = cell["seed"]
    row = budgeted(  # accuracy.py's settings for this row
        batch_size=cell["batch_size"],
        lr=args.lr,
        patience=cell["patience"],
        ema=cell["ema"],
        max_batches=args.max_batches,
        budget=args.budget,
        loss="mse",
        monitor="rmse",
    )
    protocol = {**overrides, "lookback": args.lookback}
    config = RunConfig.create(args.dataset, args.model, protocol=protocol, train=row, seed=seed)
    train = refit_config(config.train, cell["best_epoch"])  # as accuracy.model_cell refits
    fc = Forecaster.build(config, data)
    paper = paper_targets("tgcn", args.dataset)

    def score(forecast: Any) -> dict:
        return metrics(forecast, data, fc.protocol, cell["batch_size"], paper)

    with tempfile.TemporaryDirectory() as folder:
        trainer = TestTracingTrainer(fc, data, train, folder, test_score=score)
        trainer.fit()
    steps = TGCN_PROTOCOL[args.dataset][2]
    per_epoch = [[upto(t, s, "rmse") for s in steps] for t in trainer.trace]
    best = [
        min(range(len(per_epoch)), key=lambda e, i=i: per_epoch[e][i]) for i in range(len(steps))
    ]
    return {
        "seed": seed,
        "epochs": len(per_epoch),
        "cached": [upto(cell, s, "rmse") for s in steps],
        "last": per_epoch[-1],
        "min": [per_epoch[e][i] for i, e in enumerate(best)],
        "argmin": [e + 1 for e in best],
    }


def render(args: argparse.Namespace, runs: list[dict]) -> str:
    """The markdown report: per seed and the mean over seeds, next to the published rows."""
    minutes = [15 * s for s in TGCN_PROTOCOL[args.dataset][2]]
    head = " | ".join(f"{m} min" for m in minutes)
    lines = [
        f"# T-GCN's selection rule vs stgraph's: {args.dataset}, `{args.model}`, RMSE",
        "",
        f"Refit on train + val (lookback {args.lookback}, MSE loss, the epoch count early "
        f"stopping on validation chose in the {args.budget:g} s run), the paper's test "
        "targets (tgcn_targets.py) scored after every epoch. Errors over steps 1..k. 'min over "
        "epochs' selects on the test split (the authors' rule): a diagnostic, not a result. "
        "Means ± sample std over seeds.",
        "",
        f"Command: `python tools/bench/tgcn_selection.py --dataset {args.dataset} --model "
        f"{args.model} --lookback {args.lookback} --budget {args.budget:g} --seeds "
        f"{' '.join(str(r['seed']) for r in runs)} --threads {args.threads}`",
        "",
        f"| row | epochs | {head} |",
        "|---|---|" + "---|" * len(minutes),
    ]
    pub = PUBLISHED_TGCN[args.dataset]
    lines.append(
        "| T-GCN (published: min over epochs) | 3000 | "
        + " | ".join(f"{pub[m][0]:.4f}" for m in minutes)
        + " |"
    )
    for kind, name in (("last", "last epoch (stgraph's rule)"), ("min", "min over epochs")):
        for r in runs:
            extra = f" (epoch {', '.join(map(str, r['argmin']))})" if kind == "min" else ""
            vals = " | ".join(f"{v:.4f}" for v in r[kind])
            lines.append(f"| seed {r['seed']}, {name}{extra} | {r['epochs']} | {vals} |")
        cols = list(zip(*(r[kind] for r in runs), strict=True))
        mean = " | ".join(
            f"{statistics.mean(c):.4f} ± {statistics.stdev(c) if len(c) > 1 else 0.0:.4f}"
            for c in cols
        )
        lines.append(f"| **mean, {name}** | | {mean} |")
    drift = max(abs(a - b) for r in runs for a, b in zip(r["last"], r["cached"], strict=True))
    lines += ["", f"Largest difference between 'last epoch' and the cached refit row: {drift:.2e}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--dataset", choices=sorted(TGCN_PROTOCOL), default="sz-taxi")
    ap.add_argument("--model", default="stid")
    ap.add_argument("--lookback", type=int, default=192)
    ap.add_argument("--budget", type=float, default=300.0, help="the cached row's budget")
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    ap.add_argument("--lr", type=float, default=2e-3, help="as accuracy.py --lr")
    ap.add_argument("--max-batches", type=int, default=50, help="as accuracy.py --max-batches")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--cache", default=str(RESULTS / "accuracy.jsonl"))
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--report", action="store_true", help="re-render from the saved .json")
    args = ap.parse_args()
    configure_threads(args.threads)
    raw = Path(args.out).with_suffix(".json")
    if args.report:  # re-render the last run's numbers
        runs = json.loads(raw.read_text())
    else:
        cells = list(load_cache(Path(args.cache)).values())
        rows = [cached_refit(args, cells, seed) for seed in args.seeds]  # all, before training
        data, overrides, _ = setup("tgcn", args.dataset, args.data_dir)
        runs = []
        for cell in rows:
            runs.append(trace_seed(args, cell, data, overrides))
            r = runs[-1]
            print(f"seed {r['seed']}: last {r['last']} min {r['min']} at {r['argmin']}", flush=True)
        atomic_write_text(raw, json.dumps(runs, indent=1) + "\n")
    out = Path(args.out)
    atomic_write_text(out, render(args, runs))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
