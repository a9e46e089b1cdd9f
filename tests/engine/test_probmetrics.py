"""Probabilistic scores: pinball / NLL losses, CRPS (closed form and quantile form), interval
coverage and width, exact accumulation, and the climatological-quantile baseline."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stgraph.data import Protocol
from stgraph.engine.baselines import ClimatologicalQuantile
from stgraph.engine.metrics import LOSSES
from stgraph.engine.probmetrics import (
    ProbAccumulator,
    central_intervals,
    gaussian_crps,
    gaussian_nll,
    median,
    normal_quantiles,
    pinball,
    quantile_crps,
)
from stgraph.models.common import DEFAULT_LEVELS


def test_pinball_matches_a_hand_computation():
    # y = 2.5 against quantiles 1, 2, 3 at 0.1, 0.5, 0.9: residuals 1.5, 0.5, -0.5
    # rho = 0.1 * 1.5, 0.5 * 0.5, (0.9 - 1) * (-0.5) = 0.15, 0.25, 0.05 -> mean 0.15
    q = torch.tensor([[1.0, 2.0, 3.0]])
    got = pinball(q, torch.tensor([2.5]), (0.1, 0.5, 0.9))
    assert got.item() == pytest.approx((0.15 + 0.25 + 0.05) / 3)
    # at the single level 0.5 the pinball loss is half the absolute error
    y = torch.randn(50)
    x = torch.randn(50)
    assert torch.allclose(pinball(x[:, None], y, (0.5,)), 0.5 * (x - y).abs())


def test_gaussian_nll_is_the_normal_log_density():
    mu, sigma, y = torch.randn(20), torch.rand(20) + 0.1, torch.randn(20)
    ref = -torch.distributions.Normal(mu, sigma).log_prob(y)
    assert torch.allclose(gaussian_nll(torch.stack([mu, sigma], -1), y), ref, atol=1e-5)


def test_gaussian_crps_closed_form_matches_numerical_integration():
    mu, sigma, y = 0.3, 1.7, 1.1
    x = np.linspace(mu - 14 * sigma, mu + 14 * sigma, 400_001)
    cdf = 0.5 * (1 + np.vectorize(math.erf)((x - mu) / (sigma * math.sqrt(2))))
    integrand = (cdf - (x >= y)) ** 2
    numeric = float(np.sum((integrand[1:] + integrand[:-1]) / 2 * np.diff(x)))
    closed = gaussian_crps(torch.tensor([[mu, sigma]], dtype=torch.float64), torch.tensor([y]))
    assert closed.item() == pytest.approx(numeric, rel=1e-4)


def test_quantile_crps_approaches_the_gaussian_crps_with_many_levels():
    params = torch.tensor([[0.5, 2.0], [-1.0, 0.5]], dtype=torch.float64)
    y = torch.tensor([1.3, -2.0], dtype=torch.float64)
    exact = gaussian_crps(params, y)
    errors = []
    for k in (9, 99, 999):
        levels = [(i + 0.5) / k for i in range(k)]
        approx = quantile_crps(normal_quantiles(params, levels), y, levels)
        errors.append(float((approx - exact).abs().max()))
    assert errors[2] < errors[1] < errors[0]
    assert errors[2] < 1e-3 * float(exact.min())


def test_coverage_of_true_quantiles_is_near_nominal():
    torch.manual_seed(0)
    y = torch.randn(4, 3, 500, 20)  # 120 000 standard-normal draws
    levels = (0.05, 0.1, 0.5, 0.9, 0.95)
    params = torch.stack([torch.zeros_like(y), torch.ones_like(y)], -1)
    acc = ProbAccumulator(3, levels, interval=0.8)
    acc.update(normal_quantiles(params, levels), y, torch.ones_like(y, dtype=torch.bool))
    out = acc.compute()["overall"]
    assert out["nominal"] == pytest.approx(0.8)
    assert out["coverage"] == pytest.approx(0.8, abs=0.006)
    assert out["width"] == pytest.approx(2 * 1.2815516, rel=1e-5)
    assert [p[0] for p in central_intervals(levels)] == pytest.approx([0.9, 0.8])


def test_accumulation_is_exact_over_batches_and_respects_the_mask():
    torch.manual_seed(1)
    q = torch.randn(6, 2, 5, 1, 3).sort(-1).values
    y = torch.randn(6, 2, 5, 1)
    mask = torch.rand(6, 2, 5, 1) > 0.3
    whole, parts = ProbAccumulator(2, (0.1, 0.5, 0.9)), ProbAccumulator(2, (0.1, 0.5, 0.9))
    whole.update(q, y, mask)
    parts.update(q[:2], y[:2], mask[:2])
    parts.update(q[2:], y[2:], mask[2:])
    a, b = parts.compute(), whole.compute()
    for key in ("overall", "1", "2"):
        got, ref = (r["overall"] if key == "overall" else r["horizons"][key] for r in (a, b))
        assert got == pytest.approx(ref)
    expected = quantile_crps(q, y, (0.1, 0.5, 0.9))[mask].double().mean()
    assert whole.compute()["overall"]["crps"] == pytest.approx(float(expected))
    inside = ((y >= q[..., 0]) & (y <= q[..., 2]))[mask].double().mean()
    assert whole.compute()["overall"]["coverage"] == pytest.approx(float(inside))


def test_an_all_missing_batch_stays_finite():
    q = torch.randn(2, 3, 4, 1, 3).sort(-1).values
    y = torch.full((2, 3, 4, 1), float("nan"))
    mask = torch.zeros(2, 3, 4, 1, dtype=torch.bool)
    acc = ProbAccumulator(3, (0.1, 0.5, 0.9))
    acc.update(q, y, mask)
    out = acc.compute()
    assert out["overall"]["crps"] is None and out["overall"]["count"] == 0
    assert all(h["coverage"] is None for h in out["horizons"].values())
    score = torch.randn(2, 3, 4, 1, requires_grad=True)
    loss = LOSSES["pinball"](score, y, mask)
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(score.grad, torch.zeros_like(score))


def test_median_interpolates_between_the_levels_around_one_half():
    q = torch.tensor([[1.0, 3.0, 7.0]])
    assert median(q, (0.1, 0.5, 0.9)).item() == 3.0
    assert median(q, (0.2, 0.4, 0.9)).item() == pytest.approx(3.0 + 0.1 / 0.5 * 4.0)


def test_climatological_quantiles_are_the_training_slot_quantiles(tiny_traffic):
    p = Protocol("tiny", lookback=12, horizon=6, slots="time_of_day").fit(tiny_traffic)
    base = ClimatologicalQuantile(DEFAULT_LEVELS, min_count=2).fit(tiny_traffic, p)
    end = p.bounds.train_end
    slot = int(base.slots[end + 20])  # the slot of a test step
    steps = torch.nonzero(base.slots[:end] == slot).flatten()
    node = 3
    seen = tiny_traffic.mask[steps, node, 0]
    vals = tiny_traffic.values[steps, node, 0][seen].double()
    expected = torch.quantile(vals, torch.tensor(DEFAULT_LEVELS, dtype=torch.float64))
    assert torch.allclose(base.table[slot, node, 0].double(), expected, atol=1e-4)
    batch = p.windows(tiny_traffic, "test").batch(np.arange(3))
    got = base.predict_quantiles(batch)
    assert got.shape == (3, 6, tiny_traffic.num_nodes, 1, len(DEFAULT_LEVELS))
    assert bool((got.diff(dim=-1) >= 0).all())


def test_climatological_quantiles_fall_back_to_the_node_quantiles(tiny_traffic):
    # min_count above any slot's size: every slot uses the node's whole-training quantiles
    p = Protocol("tiny", lookback=12, horizon=6, slots="time_of_day").fit(tiny_traffic)
    base = ClimatologicalQuantile((0.25, 0.75), min_count=10_000).fit(tiny_traffic, p)
    end = p.bounds.train_end
    node = 5
    vals = tiny_traffic.values[:end, node, 0][tiny_traffic.mask[:end, node, 0]].double()
    expected = torch.quantile(vals, torch.tensor([0.25, 0.75], dtype=torch.float64))
    assert torch.allclose(base.table[:, node, 0].double(), expected.expand(len(base.table), 2))
