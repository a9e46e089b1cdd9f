"""Baselines use only training statistics and the window's past."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from stgraph.data import Protocol, SpatioTemporalData
from stgraph.engine.baselines import HistoricalAverage, LastValue, SeasonalNaive
from stgraph.graph import SensorGraph


def make_data(values, mask=None, freq="6h", start="2024-01-01"):
    v = np.asarray(values, dtype=np.float32)
    if v.ndim == 2:
        v = v[..., None]
    t, n, _ = v.shape
    g = SensorGraph([f"n{i}" for i in range(n)], np.zeros((2, 0), dtype=int))
    return SpatioTemporalData(
        v,
        None if mask is None else np.asarray(mask).reshape(v.shape),
        pd.date_range(start, periods=t, freq=freq),
        g,
    )


def all_windows(d, p, split="test"):
    w = p.windows(d, split)
    return w.batch(np.arange(len(w)))


def test_last_value_takes_last_observed_input():
    d = make_data(np.arange(40).reshape(20, 2), mask=np.r_[np.ones((19, 2)), [[1, 0]]].astype(bool))
    p = Protocol("x", lookback=3, horizon=2, split=(0.5, 0.25, 0.25), scaler="none").fit(d)
    w = p.windows(d, "test")
    b = w.batch(np.arange(len(w)))
    pred = LastValue().fit(d, p).predict(b)
    assert pred.shape == b.y.shape
    assert torch.equal(pred[:, 0], b.x[:, -1])


def test_last_value_skips_missing_tail_and_falls_back_to_train_mean():
    x = torch.tensor([[1.0, 2.0, 0.0]]).view(1, 3, 1, 1)
    m = torch.tensor([[True, True, False]]).view(1, 3, 1, 1)
    from stgraph.engine.baselines import _last_observed

    assert float(_last_observed(x, m, torch.zeros(1, 1))) == 2.0
    assert float(_last_observed(x, ~m & False, torch.full((1, 1), 7.0))) == 7.0


def test_historical_average_uses_training_slots_only():
    # 4 steps/day (6h); 8 weeks; train = 70%: slot means come from train only
    days = 56
    base = np.tile(np.array([10.0, 20.0, 30.0, 40.0]), days)[:, None]
    v = np.repeat(base, 2, axis=1)
    v[int(0.7 * len(v)) + 8 :, :] += 1000  # poison after train (and after an input buffer)
    d = make_data(v)
    p = Protocol("x", lookback=4, horizon=4, scaler="none").fit(d)
    b = p.windows(d, "test").batch(np.arange(5))
    pred = HistoricalAverage().fit(d, p).predict(b)
    assert set(pred.unique().tolist()) <= {10.0, 20.0, 30.0, 40.0}


def test_seasonal_naive_reads_one_season_back():
    v = np.arange(200, dtype=float).reshape(100, 2)
    d = make_data(v)
    p = Protocol("x", lookback=4, horizon=4, scaler="none").fit(d)
    b = p.windows(d, "test").batch(np.arange(3))
    pred = SeasonalNaive().fit(d, p).predict(b)  # 4 steps per day
    assert torch.equal(pred, b.y - 4 * 2)
    with pytest.raises(ValueError, match="shorter than the horizon"):
        SeasonalNaive(season=2).fit(d, p)
    # daily data, a 3-step horizon: the natural season is a week, not the horizon
    daily = make_data(v, freq="1D")
    p3 = Protocol("x", lookback=4, horizon=3, scaler="none").fit(daily)
    assert SeasonalNaive().fit(daily, p3).period == 7
    # the protocol's periods override the frequency's
    p2 = Protocol("x", lookback=4, horizon=3, scaler="none", seasonal_periods=(5, 2)).fit(daily)
    assert p2.seasonal_periods == (2, 5) and SeasonalNaive().fit(daily, p2).period == 5


def test_seasonal_naive_on_daily_data_repeats_last_week_not_the_last_value():
    # a pure weekly pattern: the natural season (7 days) forecasts it exactly, whatever H
    rng = np.random.default_rng(0)
    week = rng.uniform(0, 100, size=(7, 3))
    d = make_data(np.tile(week, (30, 1)), freq="D")
    for horizon in (3, 7):
        p = Protocol("x", lookback=7, horizon=horizon, scaler="none").fit(d)
        b = all_windows(d, p)
        assert torch.allclose(SeasonalNaive().fit(d, p).predict(b), b.y)


def test_historical_average_is_a_monthly_climatology_on_monthly_data():
    # 72 calendar months, an annual cycle per node: month-of-year means are exact
    cycle = np.sin(2 * np.pi * np.arange(72) / 12)[:, None] * np.array([5.0, 10.0])
    d = make_data(cycle, freq="MS", start="2018-01-01")
    p = Protocol("x", lookback=3, horizon=3, scaler="none").fit(d)
    b = all_windows(d, p)
    pred = HistoricalAverage().fit(d, p).predict(b)
    assert p.slots == "month_of_year" and p.seasonal_periods == (12,)
    assert float((pred - b.y).abs().max()) < 1e-5
    assert torch.allclose(SeasonalNaive().fit(d, p).predict(b), b.y, atol=1e-5)


def test_historical_average_slots_are_exact_for_one_minute_data():
    # the value of every step is its minute of the week: any slot error shows up
    steps = 3 * 10080
    d = make_data((np.arange(steps) % 10080)[:, None].astype(float), freq="min")
    p = Protocol("x", lookback=2, horizon=2, stride=7, scaler="none", split=(0.5, 0.1, 0.4))
    p = p.fit(d)
    b = all_windows(d, p)
    pred = HistoricalAverage().fit(d, p).predict(b)
    assert int((pred != b.y).sum()) == 0


def test_fallback_for_a_node_never_observed_is_per_feature():
    # node 1 is never observed; features live on different scales (~10 and ~1000)
    v = np.zeros((40, 2, 2))
    v[..., 0], v[..., 1] = 10.0, 1000.0
    mask = np.ones_like(v, dtype=bool)
    mask[:, 1] = False
    d = make_data(v, mask=mask)
    p = Protocol("x", lookback=4, horizon=2, scaler="none").fit(d)
    b = all_windows(d, p)
    for cls in (LastValue, HistoricalAverage):
        pred = cls().fit(d, p).predict(b)
        assert pred[:, :, 1].reshape(-1, 2).unique(dim=0).tolist() == [[10.0, 1000.0]]
