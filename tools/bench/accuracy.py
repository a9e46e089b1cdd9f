"""Accuracy benchmark: registered models x datasets x seeds under one stated CPU budget, next
to the calendar-aware baselines, with the T-GCN paper's own protocol for Los-loop / SZ-taxi.

Every cell (protocol, dataset, model, seed) trains with the same :class:`TrainConfig`: the
same wall-clock budget (``--budget`` seconds of training + validation), batch size, learning
rate and patience; early stopping on the validation split picks the kept epoch, the test
split is evaluated once. Finished cells are appended to a JSON-lines cache, so the table is
filled incrementally and a rerun only trains the missing cells; ``--report`` rewrites the
markdown from the cache without training.

    python tools/bench/accuracy.py --protocol tgcn --datasets los-loop sz-taxi \\
        --models tgcn stgcn graph-wavenet --seeds 0 1 2 --budget 60
    python tools/bench/accuracy.py --report
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

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
# The T-GCN paper's protocol (Zhao et al., IEEE T-ITS 2019, sec. IV-A): 80/20 chronological
# split, inputs min-max scaled, 15/30/45/60-minute horizons. stgraph keeps the last tenth of
# the 80 % for early stopping (the paper has no validation split) and fits the scaler on the
# training split only.
TGCN_PROTOCOL: dict[str, tuple[dict[str, Any], dict[str, Any], list[int]]] = {
    # dataset: (protocol, loader options, reported horizon steps)
    "los-loop": (
        {"lookback": 12, "horizon": 12, "split": (0.72, 0.08, 0.2), "scaler": "minmax"},
        {},
        [3, 6, 9, 12],
    ),
    "sz-taxi": (
        {"lookback": 4, "horizon": 4, "split": (0.72, 0.08, 0.2), "scaler": "minmax"},
        {"zeros_missing": False},  # T-GCN keeps zero speeds as observed values
        [1, 2, 3, 4],
    ),
}
# Published T-GCN rows, Zhao et al., IEEE T-ITS 2019, Table II: minutes -> (RMSE, MAE). The
# paper trains one model per horizon and scores all of its output steps together, so its
# "30 min" row is the error over steps 1..k (k = 30 min); the comparison uses that definition
# (:func:`upto`) on stgraph's one 60-minute model, and the tables also give the error *at* step k.
PUBLISHED_TGCN = {
    "los-loop": {
        15: (5.1264, 3.1802),
        30: (6.0598, 3.7466),
        45: (6.7065, 4.1158),
        60: (7.2677, 4.6021),
    },
    "sz-taxi": {
        15: (3.9265, 2.7145),
        30: (3.9740, 2.7522),
        45: (3.9910, 2.7645),
        60: (4.0120, 2.7889),
    },
}


def setup(
    protocol: str, dataset: str, data_dir: str | None
) -> tuple[Any, dict[str, Any], list[int]]:
    """Series, protocol overrides and reported horizon steps of one (protocol, dataset)."""
    if protocol == "tgcn":
        if dataset not in TGCN_PROTOCOL:
            raise SystemExit(f"the T-GCN protocol is defined for {sorted(TGCN_PROTOCOL)} only")
        overrides, load_kw, steps = TGCN_PROTOCOL[dataset]
        return load_dataset(dataset, data_dir, **load_kw), overrides, steps
    data = load_dataset(dataset, data_dir)
    horizon = RunConfig.create(dataset, "stcn").proto.horizon
    return data, {}, pick_horizons(horizon)


def metrics(forecast: Any, data: Any, protocol: Any) -> dict[str, Any]:
    """Masked test metrics (MAPE dropped for signed data)."""
    res = evaluate_forecaster(forecast, protocol.windows(data, "test"), 256)
    return res if mape_is_meaningful(data, protocol) else drop_mape(res)


def baseline_cells(
    protocol: str, dataset: str, data: Any, overrides: dict, statistical: list[str]
) -> list[dict]:
    """Every baseline's test metrics (deterministic: one row each, no seed), the calendar-aware
    ones and the ``statistical`` ones (ARIMA, VAR) fitted on the training split."""
    fitted = RunConfig.create(dataset, "stcn", protocol=overrides).proto.fit(data)
    rows = []
    for name in [*BASELINES, *statistical]:
        t0 = time.perf_counter()
        try:
            base = get_baseline(name)().fit(data, fitted)
        except (ValueError, ImportError) as e:  # e.g. VAR refuses N*F*p above its size limit
            print(f"{dataset}: baseline {name} skipped: {e}", flush=True)
            continue
        res = metrics(base.predict, data, fitted)
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


def model_cell(
    dataset: str,
    model: str,
    seed: int,
    data: Any,
    overrides: dict,
    train: TrainConfig,
    refit: bool = False,
    hparams: str | None = None,
) -> tuple[dict, Forecaster]:
    """Train one model under the budget and evaluate it on the test split once. With
    ``refit``, a fresh model of the same seed is then trained on the training and validation
    windows for the epoch count early stopping chose (cosine over those epochs, no budget),
    and that model is the one scored. ``hparams`` ("key=value ...") overrides the model's
    registered defaults."""
    config = RunConfig.create(
        dataset, model, hparams=parse_hparams(hparams), protocol=overrides, train=train, seed=seed
    )
    fc = Forecaster.build(config, data)
    summary = fc.fit(data)
    extra = {}
    if refit:
        again = dataclasses.replace(
            config.train, fit_on="train+val", epochs=summary["best_epoch"], time_budget=None
        )
        fc = Forecaster.build(config, data)
        second = fc.fit(data, again)
        extra = {
            "refit": True,
            "refit_seconds": second["train_seconds"],
            "refit_cpu_seconds": second["cpu_seconds"],
        }
        summary = {**summary, "cpu_seconds": summary["cpu_seconds"] + second["cpu_seconds"]}
    res = metrics(fc.predict, data, fc.protocol)
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


def ensemble_cell(members: list[Forecaster], seeds: list[int], data: Any, like: dict) -> dict:
    """The mean forecast of the seeds' models (:class:`MeanEnsemble`), scored on the test
    split like one more row; ``like`` is a member's cell (its settings are the row's)."""
    fc = members[0]
    res = metrics(MeanEnsemble(members).predict, data, fc.protocol)
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


def load_cache(path: Path) -> dict[tuple, dict]:
    """Finished cells by (protocol, dataset, model, seed)."""
    cells: dict[tuple, dict] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                c = json.loads(line)
                cells[(c["protocol"], c["dataset"], label(c), c["seed"])] = c
    return cells


def append(path: Path, cell: dict) -> None:
    """Add one finished cell to the cache (one line, flushed at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(cell) + "\n")


def _mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


DEFAULT_BUDGET = 60.0
DEFAULT_PATIENCE = 8
DEFAULT_BATCH = 64


# settings a row may change: (cell key, default, row-name part, command flag; None = none)
VARIANTS: list[tuple[str, Any, str, str | None]] = [
    ("loss", "mae", "{} loss", "--loss {}"),
    ("monitor", "mae", "{} stop", "--monitor {}"),
    ("budget", DEFAULT_BUDGET, "{:g} s", None),  # always in the command
    ("lookback", None, "lookback {}", "--lookback {}"),
    ("horizon", None, "horizon {}", "--horizon {}"),
    ("patience", DEFAULT_PATIENCE, "patience {}", "--patience {}"),
    ("ema", 0.0, "ema {:g}", "--ema {:g}"),
    ("batch_size", DEFAULT_BATCH, "batch {}", "--batch-size {}"),
    ("refit", False, "refit on train+val", "--refit"),
    ("hparams", None, "{}", '--hparams "{}"'),  # "dim=64 layers=4": off the registered defaults
]


def parse_hparams(text: str | None) -> dict[str, Any]:
    """Model hyper-parameters from ``"key=value key=value"`` (values read as JSON when they
    parse, else kept as strings); ``{}`` for ``None``."""
    out: dict[str, Any] = {}
    for item in (text or "").split():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--hparams: {item!r} is not KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _changed(cell: dict) -> list[tuple[str, str | None]]:
    """(row-name part, command flag) of every setting of ``cell`` off its default."""
    out = []
    for key, default, name, flag in VARIANTS:
        value = cell.get(key, default)
        if key == "budget" and cell["kind"] != "model":
            continue
        if value is not None and value != default:
            out.append((name.format(value), None if flag is None else flag.format(value)))
    if cell.get("members"):
        out.append((f"mean of {len(cell['members'])} seeds", "--ensemble"))
    return out


def label(cell: dict) -> str:
    """Row name: the method, with every setting that differs from the defaults (MAE loss and
    early stopping, :data:`DEFAULT_BUDGET` CPU s, the protocol's lookback, ...; see
    :data:`VARIANTS`), so variants never share a row."""
    parts = [name for name, _ in _changed(cell)]
    return cell["model"] + (f" ({', '.join(parts)})" if parts else "")


def command(cell: dict, seeds: list[int]) -> str:
    """The command that trains ``cell`` (and its other ``seeds``): the settings that vary
    between rows are stored in the cell; the rest are this script's defaults."""
    parts = [
        "python tools/bench/accuracy.py",
        f"--protocol {cell['protocol']} --datasets {cell['dataset']} --models {cell['model']}",
        "--seeds " + " ".join(map(str, seeds)),
        f"--budget {cell.get('budget', DEFAULT_BUDGET):g} --threads {cell.get('threads', 1)}",
    ]
    return " ".join(parts + [flag for _, flag in _changed(cell) if flag])


def commands(rows: dict[str, dict]) -> list[str]:
    """One command per trained row of a section (models of equal settings merged)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for name in ordered(rows):
        cells = rows[name]["cells"]
        if rows[name]["kind"] != "model":
            continue
        seeds = cells[0].get("members") or sorted(c["seed"] for c in cells)
        line = command(cells[0], seeds)
        groups[line.replace(f"--models {cells[0]['model']} ", "--models {} ")].append(
            cells[0]["model"]
        )
    return [f"- `{k.format(' '.join(v))}`" for k, v in groups.items()]


def upto(cell: dict, step: int, metric: str) -> float | None:
    """``metric`` over all forecasts of steps 1..``step`` (exact, from the per-step values
    and counts): MAE is the count-weighted mean, RMSE the root of the weighted mean square.

    This is how the T-GCN paper scores a horizon (all output steps of a model trained for
    it)."""
    blocks = [cell["horizons"][str(s)] for s in range(1, step + 1)]
    if any(b.get(metric) is None for b in blocks):
        return None
    total = sum(b["count"] for b in blocks)
    if metric == "rmse":
        return float((sum(b["rmse"] ** 2 * b["count"] for b in blocks) / total) ** 0.5)
    return float(sum(b[metric] * b["count"] for b in blocks) / total)


def _value(cell: dict, step: int | None, metric: str) -> float | None:
    if metric.endswith("_upto"):
        return None if step is None else upto(cell, step, metric[: -len("_upto")])
    block = cell["overall"] if step is None else cell["horizons"][str(step)]
    return block.get(metric)


def summarise(cells: list[dict]) -> dict[tuple, dict[str, Any]]:
    """Mean / std over seeds per (protocol, dataset, row :func:`label`)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for c in cells:
        groups[(c["protocol"], c["dataset"], label(c))].append(c)
    out = {}
    for key, group in groups.items():
        steps = [int(s) for s in group[0]["horizons"]]
        # a step the row's model does not forecast (another horizon) reads as no values
        stats: dict[Any, Any] = defaultdict(list, cells=group, kind=group[0]["kind"])
        for metric in ("mae", "rmse", "mape", "mae_upto", "rmse_upto"):
            for step in [*steps, None]:
                vals = [v for c in group if (v := _value(c, step, metric)) is not None]
                stats[(metric, step)] = vals
        out[key] = stats
    return out


def verdicts(
    summary: dict[tuple, dict], protocol: str, dataset: str, steps: list[int]
) -> list[str]:
    """Per reported step: does the best model beat the best calendar-aware baseline, and the
    best of all baselines (with ARIMA / VAR), by more than its seed-to-seed spread (MAE)?"""
    rows = {k[2]: v for k, v in summary.items() if k[:2] == (protocol, dataset)}
    lines = []
    for step in steps:
        base = {
            m: statistics.mean(v[("mae", step)])
            for m, v in rows.items()
            if v["kind"] == "baseline" and v[("mae", step)]
        }
        mods = {
            m: v[("mae", step)]
            for m, v in rows.items()
            if v["kind"] == "model" and v[("mae", step)] and "members" not in v["cells"][0]
        }  # an ensemble row has no seed spread: the verdicts compare single models
        if not base or not mods:
            continue
        mname, mvals = min(spread_first(mods).items(), key=lambda kv: statistics.mean(kv[1]))
        mean = statistics.mean(mvals)
        spread = statistics.stdev(mvals) if len(mvals) > 1 else float("nan")
        text = f"- step {step}: best model {mname} {mean:.3f} (± {spread:.3f}, {len(mvals)} seeds)"
        for pool_name, names in (("calendar-aware", set(BASELINES)), ("any", set(base))):
            pool = {m: v for m, v in base.items() if m in names}
            if not pool:
                continue
            bname, bval = min(pool.items(), key=lambda kv: kv[1])
            ok = len(mvals) > 1 and bval - mean > spread
            verdict = "beaten beyond the spread" if ok else "NOT beaten beyond the spread"
            text += f"; best {pool_name} baseline {bname} {bval:.3f}: {verdict}"
        lines.append(text)
    return lines


def spread_first(rows: dict[str, list[float]]) -> dict[str, list[float]]:
    """The rows with two or more seeds when there are any (only they have a seed spread to
    judge a win by), else all: a one-seed exploratory run never stands for a method."""
    multi = {m: v for m, v in rows.items() if len(v) > 1}
    return multi or rows


def validation(group: list[dict]) -> str:
    """Mean over seeds of the validation score that picked each run's kept epoch (its
    early-stopping metric); ``-`` for baselines, ensembles and cells older than the field."""
    vals = [c["val"][c.get("monitor", "mae")] for c in group if c.get("val")]
    if not vals or len(vals) < len(group):
        return "-"
    return f"{group[0].get('monitor', 'mae').upper()} {statistics.mean(vals):.4f}"


def ordered(rows: dict[str, dict]) -> list[str]:
    """Row names in table order: models first, then baselines, each by name."""
    return sorted(rows, key=lambda m: (rows[m]["kind"] != "model", m))


def published_lines(rows: dict[str, dict], dataset: str, steps: list[int]) -> list[str]:
    """Per row: at which horizons its mean error over steps 1..k (the paper's definition,
    :func:`upto`) is below the published T-GCN MAE and RMSE (a row trained for a shorter
    horizon is judged where it forecasts); then, per horizon, the rows with a seed spread
    (no ensembles) that beat T-GCN there on both metrics, the paper's one model per horizon."""
    pub = PUBLISHED_TGCN[dataset]
    minutes = sorted(pub)
    lines, both_by_minute = [], defaultdict(list)
    for m in ordered(rows):
        wins: dict[str, list[int]] = {"mae": [], "rmse": []}
        reach = [s for s in steps if rows[m][("mae_upto", s)] and rows[m][("rmse_upto", s)]]
        if not reach:
            continue
        for metric, col in (("mae", 1), ("rmse", 0)):
            for i, s in enumerate(steps):
                if (
                    s in reach
                    and statistics.mean(rows[m][(metric + "_upto", s)]) < pub[minutes[i]][col]
                ):
                    wins[metric].append(minutes[i])
        everywhere = all(len(w) == len(steps) for w in wins.values())
        scope = (
            "every horizon, both metrics"
            if everywhere
            else "not everywhere"
            if len(reach) == len(steps)
            else f"trained for ≤{minutes[len(reach) - 1]} min only"
        )
        lines.append(
            f"- {m}: MAE below T-GCN at {'/'.join(map(str, wins['mae'])) or 'no'} min, RMSE "
            f"below at {'/'.join(map(str, wins['rmse'])) or 'no'} min ({scope})"
        )
        single = rows[m]["kind"] == "model" and "members" not in rows[m]["cells"][0]
        if single and len(rows[m]["cells"]) > 1:
            for minute in set(wins["mae"]) & set(wins["rmse"]):
                both_by_minute[minute].append(m)
    per_horizon = "; ".join(
        f"≤{mn} min: {', '.join(both_by_minute[mn]) or 'none'}" for mn in minutes
    )
    lines.append(
        f"- single models (2+ seeds, mean) below T-GCN on both metrics, per horizon: {per_horizon}"
    )
    return lines


def overview(summary: dict[tuple, dict]) -> list[str]:
    """One line per (protocol, dataset): the best model and the best baseline by MAE over
    all horizon steps."""
    head = (
        "| dataset | protocol | best model: MAE all (seeds) | runner-up | best baseline: MAE all |"
    )
    lines = [head, "|---|---|---|---|---|"]
    for protocol, dataset in sorted({k[:2] for k in summary}):
        rows = {k[2]: v for k, v in summary.items() if k[:2] == (protocol, dataset)}
        scored = {m: statistics.mean(v[("mae", None)]) for m, v in rows.items() if v[("mae", None)]}
        seeded = spread_first(
            {m: rows[m][("mae", None)] for m in scored if rows[m]["kind"] == "model"}
        )
        models = sorted(seeded, key=scored.get)
        bases = sorted((m for m in scored if rows[m]["kind"] == "baseline"), key=scored.get)

        best, second = [
            f"{m} {_mean_std(rows[m][('mae', None)])} ({len(rows[m][('mae', None)])})"
            for m in models[:2]
        ] + ["-"] * (2 - min(len(models), 2))
        base = f"{bases[0]} {scored[bases[0]]:.3f}" if bases else "-"
        lines.append(f"| {dataset} | {protocol} | {best} | {second} | {base} |")
    return lines


def tgcn_table(rows: dict[str, dict], dataset: str, steps: list[int]) -> list[str]:
    """The T-GCN paper's definition (error over steps 1..k, :func:`upto`) for every row, the
    published T-GCN row under it, and which rows beat it where."""
    minutes = sorted(PUBLISHED_TGCN[dataset])
    head = ["method", *[f"MAE ≤{m} min" for m in minutes], *[f"RMSE ≤{m} min" for m in minutes]]
    lines = [
        "T-GCN's definition (Zhao et al. 2019, Table II: all output steps up to the horizon "
        "scored together), from the same runs:",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for m in ordered(rows):
        vals = [rows[m][(f"{k}_upto", s)] for k in ("mae", "rmse") for s in steps]
        lines.append("| " + " | ".join([m, *(_mean_std(v) for v in vals)]) + " |")
    pub = PUBLISHED_TGCN[dataset]
    row = [f"{pub[m][1]:.3f}" for m in minutes] + [f"{pub[m][0]:.3f}" for m in minutes]
    lines += ["| " + " | ".join(["T-GCN (published)", *row]) + " |", ""]
    return [*lines, *published_lines(rows, dataset, steps), ""]


def render(cells: list[dict], settings: dict[str, Any]) -> str:
    """The markdown report from all cached cells."""
    summary = summarise(cells)
    lines = ["# Accuracy: models and baselines, test split, mean ± std over seeds", ""]
    lines += [f"- {k}: {v}" for k, v in settings.items()]
    lines += ["", *overview(summary), ""]
    for protocol, dataset in sorted({k[:2] for k in summary}):
        rows = {k[2]: v for k, v in summary.items() if k[:2] == (protocol, dataset)}
        steps = sorted({int(s) for v in rows.values() for s in v["cells"][0]["horizons"]})
        shown = [s for s in steps if protocol != "card" or s in pick_horizons(max(steps))]
        if protocol == "tgcn":
            shown = TGCN_PROTOCOL[dataset][2]
        budgets = sorted(
            {
                (c["budget"], c["threads"])
                for v in rows.values()
                for c in v["cells"]
                if "budget" in c
            }
        )
        lines += [f"## {dataset} ({protocol} protocol)", ""]
        text = ", ".join(f"{b:g} CPU s on {t} thread{'s' * (t > 1)}" for b, t in budgets)
        lines += [f"Training budget per run: {text}.", ""]
        head = ["method", "seeds", "params", "s/epoch", "CPU s", "epochs"]
        tail = ["MAE all"] + (["MAPE all"] if protocol == "card" else [])
        head += [f"MAE@{s}" for s in shown] + [f"RMSE@{s}" for s in shown] + tail
        head.append("validation (kept epoch)")
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        order = ordered(rows)
        for m in order:
            v = rows[m]
            group = v["cells"]
            spe = [c["sec_per_epoch"] for c in group if "sec_per_epoch" in c]
            eps = [str(c["epochs"]) for c in group if "epochs" in c]
            cpu = [c["cpu_seconds"] for c in group if "cpu_seconds" in c]
            row = [
                m,
                str(len(group)) if v["kind"] == "model" else "-",
                f"{group[0]['params']:,}",
                f"{statistics.mean(spe):.1f}" if spe else "-",
                f"{statistics.mean(cpu):.0f}" if cpu else "-",
                "/".join(eps) or "-",
            ]
            row += [_mean_std(v[("mae", s)]) for s in shown] + [
                _mean_std(v[("rmse", s)]) for s in shown
            ]
            row += [_mean_std(v[(m, None)]) for m in ("mae", "mape")][: len(tail)]
            row.append(validation(group))
            lines.append("| " + " | ".join(row) + " |")
        lines += ["", *verdicts(summary, protocol, dataset, shown), ""]
        if protocol == "tgcn":
            lines += tgcn_table(rows, dataset, shown)
        lines += ["Commands (the baselines come with any of them):", "", *commands(rows), ""]
    return "\n".join(lines) + "\n"


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
            )
        except ConfigError as e:  # e.g. a lookback too short for the model
            print(f"{dataset} {model}: skipped: {e}", flush=True)
            return
        except RuntimeError as e:  # the allocator's refusal (a memory limit), not a bug
            if "can't allocate memory" not in str(e):
                raise
            print(f"{dataset} {model} seed {seed}: skipped: out of memory ({e})", flush=True)
            return
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
            **ensemble_cell(members, list(args.seeds), data, cells[key]),
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
    train = TrainConfig(
        epochs=1000,
        batch_size=args.batch_size,
        lr=args.lr,
        patience=args.patience,
        ema=args.ema,
        max_batches=args.max_batches,
        time_budget=args.budget,
        loss=args.loss,
        monitor=args.monitor,
        progress=False,
    )
    settings = {
        "budget per run": f"{DEFAULT_BUDGET:g} CPU s (a row naming another: that one) of "
        "training + validation (train.time_budget: checked after every training batch since "
        "2026-12-01; cells trained before checked it between epochs, so a model whose epoch "
        "outlasts the budget ran on to the epoch's end: the 'CPU s' column is what each row "
        "spent, mean over seeds, with the refit when there is one), "
        f"at most {args.max_batches} batches of {DEFAULT_BATCH} per epoch, AdamW lr {args.lr:g} "
        f"cosine over the budget, early stopping patience {DEFAULT_PATIENCE} on validation MAE; "
        "training loss MAE; a row naming a loss, an early-stopping metric ('rmse stop'), a "
        "lookback, a patience, a weight average (ema) or a batch size ran with that one; "
        "'refit on train+val': after that run, a fresh model of the same seed trained on the "
        "training and validation windows for the epoch count early stopping chose (cosine over "
        "those epochs, outside the budget) is the one scored",
        "hyper-parameters": "each model's registered (published) defaults; a row naming "
        "key=value settings ran with those (chosen on validation, never on the test split)",
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}; "
        "other jobs shared the machine, so s/epoch (wall clock) is indicative only",
    }
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
