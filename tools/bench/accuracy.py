"""Accuracy benchmark: registered models x datasets x seeds under one stated CPU budget, next
to the calendar-aware baselines, with the T-GCN paper's own protocol for Los-loop / SZ-taxi.

Every cell (protocol, dataset, model, seed) trains with the same :class:`TrainConfig`: the
same CPU-time budget (``--budget`` seconds of training + validation), batch size, learning
rate and patience; early stopping on the validation split picks the kept epoch, the test
split is evaluated once. Finished cells are appended to a JSON-lines cache, so the table is
filled incrementally and a rerun only trains the missing cells; ``--report`` rewrites the
markdown from the cache without training. Row names, the cache and the report live in
``accuracy_table.py``.

    python tools/bench/accuracy.py --protocol tgcn --datasets los-loop sz-taxi \\
        --models tgcn stgcn graph-wavenet --seeds 0 1 2 --budget 60
    python tools/bench/accuracy.py --report
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import torch
from accuracy_table import (
    DEFAULT_BATCH,
    DEFAULT_BUDGET,
    DEFAULT_PATIENCE,
    TGCN_PROTOCOL,
    VARIANTS,
    label,
    load_cache,
    parse_hparams,
    render,
    report_settings,
)
from tgcn_targets import extra_steps, padded, paper_scores, paper_split, paper_targets

from stgraph._threads import configure_threads
from stgraph.data import load_dataset
from stgraph.engine import (
    BASELINES,
    ConfigError,
    Forecaster,
    MeanEnsemble,
    RunConfig,
    TrainConfig,
)
from stgraph.engine.baselines import STATISTICAL_BASELINES, get_baseline
from stgraph.engine.evaluation import drop_mape, evaluate_forecaster, mape_is_meaningful
from stgraph.engine.report import pick_horizons

RESULTS = Path(__file__).parent / "results"


def setup(
    protocol: str, dataset: str, data_dir: str | None
) -> tuple[Any, dict[str, Any], list[int]]:
    """Series, protocol overrides and reported horizon steps of one (protocol, dataset); the
    T-GCN protocol splits where the paper does (:func:`tgcn_targets.paper_split`)."""
    if protocol == "tgcn":
        if dataset not in TGCN_PROTOCOL:
            raise SystemExit(f"the T-GCN protocol is defined for {sorted(TGCN_PROTOCOL)} only")
        overrides, load_kw, steps = TGCN_PROTOCOL[dataset]
        data = load_dataset(dataset, data_dir, **load_kw)
        return data, {**overrides, "split_dates": paper_split(data)}, steps
    data = load_dataset(dataset, data_dir)
    horizon = RunConfig.create(dataset, "stcn").proto.horizon
    return data, {}, pick_horizons(horizon)


def metrics(
    forecast: Any,
    data: Any,
    protocol: Any,
    batch_size: int = 256,
    paper: tuple[int, list[int]] | None = None,
) -> dict[str, Any]:
    """Masked test metrics (MAPE dropped for signed data), ``batch_size`` windows per call: a
    model's own training batch size, so a whole-graph model whose memory grows with the batch
    (``[B, N, N]`` attention) is not refused at test time after training fitted. With
    ``paper`` (:func:`paper_targets`), the T-GCN paper's test targets instead."""
    if paper is not None:
        return paper_scores(forecast, data, protocol, paper[0], paper[1], batch_size)
    res = evaluate_forecaster(forecast, protocol.windows(data, "test"), batch_size)
    return res if mape_is_meaningful(data, protocol) else drop_mape(res)


def baseline_cells(
    protocol: str, dataset: str, data: Any, overrides: dict, statistical: list[str]
) -> list[dict]:
    """Every baseline's test metrics (deterministic: one row each, no seed), the calendar-aware
    ones and the ``statistical`` ones (ARIMA, VAR) fitted on the training split."""
    fitted = RunConfig.create(dataset, "stcn", protocol=overrides).proto.fit(data)
    paper = paper_targets(protocol, dataset)  # windows past the end: fit on the padded series
    series = padded(data, extra_steps(fitted)) if paper else data
    rows = []
    for name in [*BASELINES, *statistical]:
        t0 = time.perf_counter()
        try:
            base = get_baseline(name)().fit(series, fitted)
        except (ValueError, ImportError) as e:  # e.g. VAR refuses N*F*p above its size limit
            print(f"{dataset}: baseline {name} skipped: {e}", flush=True)
            continue
        res = metrics(base.predict, data, fitted, paper=paper)
        rows.append(
            {
                "kind": "baseline",
                "model": name,
                "seed": None,
                **res,
                "params": 0,
                "seconds": time.perf_counter() - t0,
            }
        )
    return rows


def budgeted(
    *,
    batch_size: int,
    lr: float,
    patience: int,
    ema: float,
    max_batches: int | None,
    budget: float | None,
    loss: str,
    monitor: str,
) -> TrainConfig:
    """The training settings of one bench row: epochs bounded by the CPU-time ``budget``
    (and early stopping), never by the epoch count."""
    return TrainConfig(
        epochs=1000,
        batch_size=batch_size,
        lr=lr,
        patience=patience,
        ema=ema,
        max_batches=max_batches,
        time_budget=budget,
        loss=loss,
        monitor=monitor,
        progress=False,
    )


def refit_config(train: TrainConfig, epochs: int) -> TrainConfig:
    """The refit of a budgeted run: the training and validation windows, for the ``epochs``
    early stopping chose (cosine over those epochs), outside the budget."""
    return dataclasses.replace(train, fit_on="train+val", epochs=epochs, time_budget=None)


def model_cell(
    dataset: str,
    model: str,
    seed: int,
    data: Any,
    overrides: dict,
    train: TrainConfig,
    refit: bool = False,
    hparams: str | None = None,
    paper: tuple[int, list[int]] | None = None,
) -> tuple[dict, Forecaster]:
    """Train one model under the budget and evaluate it on the test split once. With
    ``refit``, a fresh model of the same seed is then trained on the training and validation
    windows for the epoch count early stopping chose (cosine over those epochs, no budget),
    and that model is the one scored. ``hparams`` ("key=value ...") overrides the model's
    registered defaults; ``paper``: score the T-GCN paper's test targets (:func:`metrics`)."""
    config = RunConfig.create(
        dataset, model, hparams=parse_hparams(hparams), protocol=overrides, train=train, seed=seed
    )
    fc = Forecaster.build(config, data)
    summary = fc.fit(data)
    extra = {}
    if refit:
        again = refit_config(config.train, summary["best_epoch"])
        fc = Forecaster.build(config, data)
        second = fc.fit(data, again)
        extra = {
            "refit": True,
            "refit_seconds": second["train_seconds"],
            "refit_cpu_seconds": second["cpu_seconds"],
        }
        summary = {**summary, "cpu_seconds": summary["cpu_seconds"] + second["cpu_seconds"]}
    res = metrics(fc.predict, data, fc.protocol, train.batch_size, paper)
    epochs = max(summary["epochs"], 1)
    cell = {
        "kind": "model",
        "model": model,
        "seed": seed,
        **res,
        "params": sum(p.numel() for p in fc.model.parameters()),
        "epochs": summary["epochs"],
        "best_epoch": summary["best_epoch"],
        "val": {"mae": summary["best_val_mae"], summary["monitor"]: summary["best_val"]},
        "sec_per_epoch": summary["train_seconds"] / epochs,
        "seconds": summary["train_seconds"],
        "cpu_seconds": summary["cpu_seconds"],
        "budget": train.time_budget,
        "loss": train.loss,
        "monitor": train.monitor,
        "patience": train.patience,
        "ema": train.ema,
        "batch_size": train.batch_size,
        "threads": torch.get_num_threads(),
        **extra,
        **({"hparams": hparams} if hparams else {}),
    }
    return cell, fc


def ensemble_cell(
    members: list[Forecaster],
    seeds: list[int],
    data: Any,
    like: dict,
    paper: tuple[int, list[int]] | None = None,
) -> dict:
    """The mean forecast of the seeds' models (:class:`MeanEnsemble`), scored on the test
    split (or ``paper``'s targets) like one more row; ``like`` is a member's cell (its
    settings are the row's)."""
    fc = members[0]
    res = metrics(MeanEnsemble(members).predict, data, fc.protocol, like["batch_size"], paper)
    keep = [key for key, *_ in VARIANTS] + ["threads"]
    return {
        "kind": "model",
        "model": like["model"],
        "seed": "ensemble",
        "members": seeds,
        **res,
        "params": like["params"] * len(members),
        **{k: like[k] for k in keep if k in like},
    }


def append(path: Path, cell: dict) -> None:
    """Add one finished cell to the cache (one line, flushed at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(cell) + "\n")


def run_model(
    args: argparse.Namespace,
    dataset: str,
    model: str,
    data: Any,
    overrides: dict,
    train: TrainConfig,
    cells: dict[tuple, dict],
) -> None:
    """Train the missing seeds of one (dataset, model) row, append each finished cell to the
    cache, and with ``--ensemble`` score the mean forecast of the seeds trained now."""
    cache_path = Path(args.cache)
    # the row this run fills: every VARIANTS setting is a command-line option of that name
    variant = {"model": model, "kind": "model", **{k: getattr(args, k) for k, *_ in VARIANTS}}
    # input / output lengths off the protocol's (the T-GCN paper trains one model per horizon)
    lengths = {k: v for k in ("lookback", "horizon") if (v := getattr(args, k)) is not None}
    paper = paper_targets(args.protocol, dataset)
    members: list[Forecaster] = []
    for seed in args.seeds:
        key = (args.protocol, dataset, label(variant), seed)
        if key in cells:
            continue
        try:
            row, fc = model_cell(
                dataset,
                model,
                seed,
                data,
                {**overrides, **lengths},
                train,
                args.refit,
                args.hparams,
                paper,
            )
        except ConfigError as e:  # e.g. a lookback too short for the model
            print(f"{dataset} {model}: skipped: {e}", flush=True)
            return
        except RuntimeError as e:  # the allocator's refusal (a memory limit), not a bug
            if "can't allocate memory" not in str(e):
                raise
            print(f"{dataset} {model} seed {seed}: skipped: out of memory ({e})", flush=True)
            return
        if args.ensemble:  # kept only to be averaged: each holds a whole model
            members.append(fc)
        cell = {"protocol": args.protocol, "dataset": dataset, **row, **lengths}
        append(cache_path, cell)
        cells[key] = cell
        print(
            f"{dataset} {model} seed {seed}: test MAE {row['overall']['mae']:.3f} "
            f"({row['epochs']} epochs, {row['seconds']:.0f}s)",
            flush=True,
        )
    if args.ensemble and len(members) == len(args.seeds) > 1:
        cell = {
            "protocol": args.protocol,
            "dataset": dataset,
            **ensemble_cell(members, list(args.seeds), data, cells[key], paper),
        }
        append(cache_path, cell)
        cells[(args.protocol, dataset, label(cell), cell["seed"])] = cell
        print(f"{dataset} {label(cell)}: test MAE {cell['overall']['mae']:.3f}", flush=True)
    elif args.ensemble:
        print(f"{dataset} {model}: no ensemble (every seed must be trained in this run)")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--protocol", choices=["card", "tgcn"], default="card")
    ap.add_argument("--datasets", nargs="*", default=[])
    ap.add_argument("--models", nargs="*", default=[])
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    ap.add_argument(
        "--budget", type=float, default=DEFAULT_BUDGET, help="training CPU seconds per run"
    )
    ap.add_argument("--loss", default="mae", help="training loss (mae, mse, rmse)")
    ap.add_argument(
        "--monitor", default="mae", choices=["mae", "rmse"], help="early-stopping metric"
    )
    ap.add_argument(
        "--lookback", type=int, default=None, help="input steps (default: the protocol's)"
    )
    ap.add_argument(
        "--horizon",
        type=int,
        default=None,
        help="output steps (default: the protocol's); a model per horizon as in T-GCN",
    )
    ap.add_argument("--ema", type=float, default=0.0, help="weight moving-average decay (0 = off)")
    ap.add_argument(
        "--ensemble",
        action="store_true",
        help="also score the mean forecast of the seeds trained in this run (one more row)",
    )
    ap.add_argument(
        "--refit",
        action="store_true",
        help="score a second model trained on train + val for the epochs validation chose",
    )
    ap.add_argument(
        "--hparams",
        type=lambda t: " ".join(sorted(t.split())) or None,
        default=None,
        metavar='"KEY=VALUE ..."',
        help='model hyper-parameters off the registered defaults, e.g. "dim=64"',
    )
    ap.add_argument("--batch-size", type=int, default=DEFAULT_BATCH)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--patience", type=int, default=DEFAULT_PATIENCE)
    ap.add_argument("--max-batches", type=int, default=50, help="training batches per epoch")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--statistical", nargs="*", default=list(STATISTICAL_BASELINES), help="ARIMA / VAR rows"
    )
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--cache", default=str(RESULTS / "accuracy.jsonl"))
    ap.add_argument("--out", default=str(RESULTS / "accuracy.md"))
    ap.add_argument("--report", action="store_true", help="only rewrite the table from the cache")
    args = ap.parse_args()
    configure_threads(args.threads)
    cache_path = Path(args.cache)
    train = budgeted(
        batch_size=args.batch_size,
        lr=args.lr,
        patience=args.patience,
        ema=args.ema,
        max_batches=args.max_batches,
        budget=args.budget,
        loss=args.loss,
        monitor=args.monitor,
    )
    settings = report_settings(args.max_batches, args.lr)
    cells = load_cache(cache_path)
    for dataset in args.datasets:
        data, overrides, _ = setup(args.protocol, dataset, args.data_dir)
        if not any(k[:2] == (args.protocol, dataset) and k[3] is None for k in cells):
            for row in baseline_cells(args.protocol, dataset, data, overrides, args.statistical):
                cell = {"protocol": args.protocol, "dataset": dataset, **row}
                append(cache_path, cell)
                cells[(args.protocol, dataset, row["model"], None)] = cell
        for model in args.models:
            run_model(args, dataset, model, data, overrides, train, cells)
    Path(args.out).write_text(render(list(cells.values()), settings))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
