"""The accuracy benchmark's bookkeeping: row names and commands of each cell's settings, the
cache, and the markdown report (``accuracy.py`` trains the cells; this module only reads them;
the T-GCN protocol and its published rows live in ``tgcn_targets.py``)."""

from __future__ import annotations

import json
import platform
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from tgcn_targets import PUBLISHED_TGCN, TGCN_PROTOCOL

from stgraph.engine import BASELINES
from stgraph.engine.report import pick_horizons


def load_cache(path: Path) -> dict[tuple, dict]:
    """Finished cells by (protocol, dataset, model, seed)."""
    cells: dict[tuple, dict] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                c = json.loads(line)
                cells[(c["protocol"], c["dataset"], label(c), c["seed"])] = c
    return cells


def _mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


DEFAULT_BUDGET = 60.0
DEFAULT_PATIENCE = 8
DEFAULT_BATCH = 64


def report_settings(max_batches: int, lr: float) -> dict[str, str]:
    """The settings every cell shares, as the report's preamble."""
    return {
        "budget per run": f"{DEFAULT_BUDGET:g} CPU s (a row naming another: that one) of "
        "training + validation (train.time_budget: checked after every training batch since "
        "2026-12-01; cells trained before checked it between epochs, so a model whose epoch "
        "outlasts the budget ran on to the epoch's end: the 'CPU s' column is what each row "
        "spent, mean over seeds, with the refit when there is one), "
        f"at most {max_batches} batches of {DEFAULT_BATCH} per epoch, AdamW lr {lr:g} "
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
        f"--protocol {cell['protocol'].removesuffix('-v1')} --datasets {cell['dataset']} "
        f"--models {cell['model']}",
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
    it); a cell scored on the paper's own test targets carries that value ("paper_upto":
    the windows differ per horizon there, see ``tgcn_targets.paper_scores``)."""
    if "paper_upto" in cell:
        block = cell["paper_upto"].get(str(step))
        return None if block is None else block.get(metric)
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
        if protocol.startswith("tgcn"):
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
        if protocol.startswith("tgcn"):
            lines += tgcn_table(rows, dataset, shown)
        head = "Commands (the baselines come with any of them)"
        if protocol == "tgcn-v1":
            head += (
                "; run before the T-GCN protocol split at int(0.8 T) and scored the paper's own "
                "test targets, which `--protocol tgcn` now does"
            )
        lines += [head + ":", "", *commands(rows), ""]
    return "\n".join(lines) + "\n"
