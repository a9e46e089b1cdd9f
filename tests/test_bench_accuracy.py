"""The accuracy benchmark's bookkeeping: row names, commands, the T-GCN scoring, the report."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "tools" / "bench" / "accuracy_table.py"
_spec = importlib.util.spec_from_file_location("accuracy_table", _PATH)
assert _spec is not None and _spec.loader is not None
acc = importlib.util.module_from_spec(_spec)
sys.path.insert(0, str(_PATH.parent))  # it imports its neighbour tgcn_targets
try:
    _spec.loader.exec_module(acc)
finally:
    sys.path.remove(str(_PATH.parent))


def _cell(seed, mae=(1.0, 2.0), rmse=(2.0, 4.0), counts=(10, 30), **extra):
    horizons = {
        str(i + 1): {"mae": m, "rmse": r, "mape": None, "count": c}
        for i, (m, r, c) in enumerate(zip(mae, rmse, counts, strict=True))
    }
    n = sum(counts)
    overall = {"mae": sum(m * c for m, c in zip(mae, counts, strict=True)) / n, "mape": None}
    return {
        "protocol": "card",
        "dataset": "toy",
        "kind": "model",
        "model": "stid",
        "seed": seed,
        "overall": overall,
        "horizons": horizons,
        "params": 100,
        "epochs": 3,
        "sec_per_epoch": 1.0,
        "budget": 60.0,
        "threads": 1,
        **extra,
    }


def test_variants_get_their_own_row_name_and_command():
    plain = _cell(0)
    assert acc.label(plain) == "stid"
    variant = _cell(
        0,
        loss="mse",
        monitor="rmse",
        budget=300.0,
        lookback=192,
        patience=20,
        batch_size=16,
        refit=True,
    )
    assert acc.label(variant) == (
        "stid (mse loss, rmse stop, 300 s, lookback 192, patience 20, batch 16, refit on train+val)"
    )
    cmd = acc.command(variant, [0, 1, 2])
    for part in ("--seeds 0 1 2", "--budget 300", "--loss mse", "--monitor rmse"):
        assert part in cmd
    assert "--lookback 192" in cmd and "--patience 20" in cmd and "--batch-size 16" in cmd
    assert cmd.endswith("--refit") and "--refit" not in acc.command(plain, [0])
    ens = {**variant, "seed": "ensemble", "members": [0, 1, 2]}
    assert acc.label(ens).endswith("mean of 3 seeds)") and "--ensemble" in acc.command(ens, [0])


def test_model_settings_name_their_row_and_travel_in_the_command():
    cell = _cell(0, hparams="dim=64 layers=4")
    assert acc.label(cell) == "stid (dim=64 layers=4)" and acc.label(_cell(0)) == "stid"
    assert '--hparams "dim=64 layers=4"' in acc.command(cell, [0])
    assert acc.parse_hparams(None) == {}
    assert acc.parse_hparams("dim=64 dropout=0.3 graph=knn") == {
        "dim": 64,
        "dropout": 0.3,
        "graph": "knn",
    }
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        acc.parse_hparams("dim")


def test_upto_pools_steps_by_their_counts():
    c = _cell(0)
    assert acc.upto(c, 1, "rmse") == pytest.approx(2.0)
    assert acc.upto(c, 2, "mae") == pytest.approx((1.0 * 10 + 2.0 * 30) / 40)
    assert acc.upto(c, 2, "rmse") == pytest.approx(math.sqrt((4 * 10 + 16 * 30) / 40))


def test_report_has_the_rows_spread_verdicts_and_commands():
    base = {**_cell(None, mae=(3.0, 3.0)), "kind": "baseline", "model": "last_value"}
    cells = [_cell(0), _cell(1, mae=(1.2, 2.2)), base]
    text = acc.render(cells, {"budget per run": "60 CPU s"})
    assert "| stid | 2 | 100 | 1.0 | - |" in text  # no CPU seconds recorded: "-"
    spent = [_cell(0, cpu_seconds=50.0), _cell(1, cpu_seconds=70.0), base]
    assert "| stid | 2 | 100 | 1.0 | 60 | 3/3 |" in acc.render(spent, {})
    assert "1.100 ± 0.141" in text  # step 1 over the two seeds
    assert "best calendar-aware baseline last_value 3.000: beaten beyond the spread" in text
    assert "--datasets toy --models stid --seeds 0 1 --budget 60 --threads 1" in text


def _tgcn(seed, steps, mae, rmse, **extra):
    counts = (10,) * steps
    cell = _cell(seed, mae=(mae,) * steps, rmse=(rmse,) * steps, counts=counts, **extra)
    return {**cell, "protocol": "tgcn", "dataset": "sz-taxi"}


def test_tgcn_report_judges_a_model_per_horizon_and_skips_one_seed_rows():
    # published sz-taxi T-GCN: RMSE 3.926 .. 4.012, MAE 2.715 .. 2.789
    long = [_tgcn(s, 4, 2.6, 3.95 + s / 100) for s in (0, 1)]  # misses RMSE at 15 min only
    short = [_tgcn(s, 1, 2.55, 3.90 + s / 100, horizon=1) for s in (0, 1)]
    lucky = _tgcn(0, 4, 1.0, 2.0, lookback=96)  # one seed: no spread, never the verdict's row
    base = {**_tgcn(None, 4, 3.0, 5.0), "kind": "baseline", "model": "last_value"}
    text = acc.render([*long, *short, lucky, base], {})
    assert "- step 1: best model stid (horizon 1) 2.550" in text
    assert "- step 2: best model stid 2.600" in text
    assert "| stid (horizon 1) | 2 | 100 | 1.0 | - | 3/3 | 2.550 ± 0.000 | - | - | - |" in text
    assert "stid (horizon 1): MAE below T-GCN at 15 min, RMSE below at 15 min (trained" in text
    assert "stid: MAE below T-GCN at 15/30/45/60 min, RMSE below at 30/45/60 min" in text
    per = text.split("per horizon: ")[1].splitlines()[0]
    assert per == "≤15 min: stid (horizon 1); ≤30 min: stid; ≤45 min: stid; ≤60 min: stid"
    assert "--models stid --seeds 0 1 --budget 60 --threads 1 --horizon 1" in text


def test_tgcn_rows_read_the_papers_own_windows_and_old_rows_keep_their_label():
    # on the paper's targets each horizon has its own window set: "paper_upto" is the score
    paper = {"1": {"mae": 2.0, "rmse": 3.0, "mape": None, "count": 7}}
    cell = _tgcn(0, 4, 2.6, 3.95, paper_upto=paper)
    assert acc.upto(cell, 1, "rmse") == 3.0
    assert acc.upto(cell, 2, "rmse") is None  # a horizon the cell was not scored at
    assert acc.upto(_tgcn(0, 4, 2.6, 3.95), 2, "rmse") == pytest.approx(3.95)
    old = [{**_tgcn(s, 4, 2.6, 3.95), "protocol": "tgcn-v1"} for s in (0, 1)]
    text = acc.render(old, {})
    assert "## sz-taxi (tgcn-v1 protocol)" in text
    assert "scored the paper's own test targets, which `--protocol tgcn` now does" in text
    assert "`python tools/bench/accuracy.py --protocol tgcn --datasets sz-taxi" in text
