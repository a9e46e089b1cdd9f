"""Masked metrics against hand-computed values, including all-missing batches."""

from __future__ import annotations

import math

import pytest
import torch

from stgraph.engine.metrics import MetricAccumulator, masked_mae, masked_mape, masked_rmse


def t(vals):
    return torch.tensor(vals, dtype=torch.float32).view(1, len(vals), 1, 1)


def test_per_batch_metrics_match_hand_computation():
    pred, y = t([1.0, 2.0, 3.0, 4.0]), t([2.0, 0.0, 3.0, 8.0])
    m = t([1, 1, 0, 1]).bool()
    # errors on observed entries: 1, 2, 4
    assert float(masked_mae(pred, y, m)) == pytest.approx(7 / 3)
    assert float(masked_rmse(pred, y, m)) == pytest.approx(math.sqrt(21 / 3))
    # MAPE skips the zero target: |1-2|/2 and |4-8|/8 -> (0.5 + 0.5) / 2
    assert float(masked_mape(pred, y, m)) == pytest.approx(50.0)


def test_all_missing_batch_is_finite_zero_with_zero_gradient():
    pred = torch.randn(2, 3, 4, 1, requires_grad=True)
    y = torch.randn(2, 3, 4, 1)
    m = torch.zeros_like(y, dtype=torch.bool)
    for fn in (masked_mae, masked_rmse, masked_mape):
        loss = fn(pred, y, m)
        assert torch.isfinite(loss) and loss.item() == 0.0
    masked_mae(pred, y, m).backward()
    assert torch.equal(pred.grad, torch.zeros_like(pred))


def test_accumulator_is_exact_over_unequal_batches_not_a_mean_of_means():
    acc = MetricAccumulator(horizon=2)
    # batch 1: horizon step 1 errors {1}, step 2 errors {2, 2}
    p1 = torch.tensor([[[[1.0], [0.0]], [[2.0], [2.0]]]])  # [1, 2, 2, 1]
    y1 = torch.zeros_like(p1)
    m1 = torch.tensor([[[[True], [False]], [[True], [True]]]])
    # batch 2: step 1 errors {3, 5}, step 2 entirely missing
    p2 = torch.tensor([[[[3.0], [5.0]], [[9.0], [9.0]]]])
    y2 = torch.zeros_like(p2)
    m2 = torch.tensor([[[[True], [True]], [[False], [False]]]])
    acc.update(p1, y1, m1)
    acc.update(p2, y2, m2)
    r = acc.compute()
    assert r["horizons"]["1"]["mae"] == pytest.approx((1 + 3 + 5) / 3)
    assert r["horizons"]["2"]["mae"] == pytest.approx(2.0)
    assert r["overall"]["mae"] == pytest.approx((1 + 3 + 5 + 2 + 2) / 5)
    assert r["overall"]["rmse"] == pytest.approx(math.sqrt((1 + 9 + 25 + 4 + 4) / 5))
    assert r["overall"]["count"] == 5
    # targets are all zero: MAPE has nothing to average
    assert r["overall"]["mape"] is None


def test_accumulator_reports_none_for_a_fully_missing_split_and_stays_finite_after_one():
    acc = MetricAccumulator(horizon=1)
    z = torch.zeros(2, 1, 3, 1)
    acc.update(z, z + 1, torch.zeros_like(z, dtype=torch.bool))
    r = acc.compute()
    assert r["overall"] == {"mae": None, "rmse": None, "mape": None, "count": 0}
    acc.update(z, z + 2, torch.ones_like(z, dtype=torch.bool))
    r = acc.compute()
    assert r["overall"]["mae"] == pytest.approx(2.0) and r["overall"]["mape"] == pytest.approx(
        100.0
    )


def test_accumulator_checks_shapes():
    with pytest.raises(ValueError, match="horizon 2"):
        MetricAccumulator(2).update(
            torch.zeros(1, 3, 1, 1),
            torch.zeros(1, 3, 1, 1),
            torch.ones(1, 3, 1, 1, dtype=torch.bool),
        )
