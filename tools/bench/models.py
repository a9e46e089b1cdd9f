"""Benchmark: train and evaluate registered models under one fixed budget; print a table.

Every row is a real ``stgraph.train_run`` (the same code path as ``stgraph train``): the
dataset card's protocol, a fixed CPU budget (epochs x batches), test-split masked metrics at
three horizons, next to the non-learned baselines computed on the same windows in the same
run. The printed Markdown table is the README's model table; each run directory keeps its
``metrics.json``.

Run from the repository root (``PYTHONPATH=.`` or stgraph installed)::

    python tools/bench/models.py                                  # all models, synthetic-traffic
    python tools/bench/models.py --models dcrnn stcn --epochs 4 --max-batches 30
    python tools/bench/models.py --datasets aqi36 chickenpox --data-dir ../shared/data --models stcn
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from stgraph.engine import TrainConfig, train_run
from stgraph.engine.report import pick_horizons
from stgraph.models import list_models

SIZE = {"dcrnn": {"hidden": 32}, "gcn-transformer": {"dim": 32}}
"""Model sizes used for the table (others: their defaults)."""


def _cell(res: dict[str, Any], key: str, metric: str) -> str:
    r = res["overall"] if key == "all" else res["horizons"][key]
    v = r[metric]
    return "n/a" if v is None else f"{v:.2f}"


def table(rows: list[dict[str, Any]], horizon: int) -> str:
    """Markdown table, one row per model then the baselines: MAE and RMSE at representative
    horizon steps and overall."""
    keys = [str(s) for s in pick_horizons(horizon)] + ["all"]
    head = ["model", "params", "train s"] + [f"MAE@{k}" for k in keys] + [f"RMSE@{k}" for k in keys]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    entries = [(m["model"], m, f"{m['params']:,}", f"{m['train_seconds']:.0f}") for m in rows]
    entries += [(f"*{k}*", v, "-", "-") for k, v in rows[0]["baselines"].items()]
    for name, res, params, secs in entries:
        cells = [_cell(res, k, "mae") for k in keys] + [_cell(res, k, "rmse") for k in keys]
        lines.append("| " + " | ".join([name, params, secs, *cells]) + " |")
    return "\n".join(lines)


def dataset_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table, one row per (dataset, model): overall test MAE / RMSE of the model,
    last value and historical average."""
    head = ["dataset", "model", "model MAE / RMSE", "last value", "historical average"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in rows:
        cells = [m["overall"], m["baselines"]["last_value"]["overall"]]
        cells.append(m["baselines"]["historical_average"]["overall"])
        pairs = [f"{c['mae']:.3f} / {c['rmse']:.3f}" for c in cells]
        lines.append("| " + " | ".join([m["dataset"], m["model"], *pairs]) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="*", default=["synthetic-traffic"])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--models", nargs="*", default=None, help="default: every registered model")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--max-batches", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/bench-models")
    args = p.parse_args()
    names = args.models or [m.name for m in list_models()]
    rows = []
    for dataset in args.datasets:
        for name in names:
            cfg = TrainConfig(
                epochs=args.epochs, max_batches=args.max_batches, seed=args.seed, progress=False
            )
            run = train_run(
                dataset,
                name,
                out=Path(args.out) / f"{dataset}-{name}",
                data_dir=args.data_dir,
                train=cfg,
                hparams=SIZE.get(name, {}),
                overwrite=True,  # the benchmark's own folders are replaced on a rerun
            )
            rows.append(run.metrics)
            print(f"{dataset} / {name}: test MAE {run.metrics['overall']['mae']:.3f}", flush=True)
    print(f"\n{args.epochs} epochs x {args.max_batches} batches, seed {args.seed}\n")
    if len(args.datasets) == 1:
        print(table(rows, len(rows[0]["horizons"])))
    else:
        print(dataset_table(rows))
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "results.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
