"""Baselines use only training statistics and the window's past."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from stgraph.data import Protocol, SpatioTemporalData
from stgraph.engine.baselines import HistoricalAverage, LastValue, SeasonalNaive
from stgraph.graph import SensorGraph


def make_data(values, mask=None, freq="6h"):
    v = np.asarray(values, dtype=np.float32)
    t, n = v.shape
    g = SensorGraph([f"n{i}" for i in range(n)], np.zeros((2, 0), dtype=int))
    return SpatioTemporalData(
        v[..., None],
        None if mask is None else np.asarray(mask)[..., None],
        pd.date_range("2024-01-01", periods=t, freq=freq),
        g,
    )


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
    # daily data, a 3-step horizon: the default season is 3 days
    daily = make_data(v, freq="1D")
    p3 = Protocol("x", lookback=4, horizon=3, scaler="none").fit(daily)
    assert SeasonalNaive().fit(daily, p3).period == 3
