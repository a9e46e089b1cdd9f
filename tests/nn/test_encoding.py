"""Time encodings: the sinusoid formula and the calendar slot mapping."""

import math

import numpy as np
import pandas as pd
import torch

from stgraph.data.calendar import calendar_features
from stgraph.nn import CalendarEmbedding, calendar_fourier, sinusoidal_positions


def test_sinusoidal_positions_formula():
    pe = sinusoidal_positions(5, 6)
    p, i = 3, 1
    assert math.isclose(pe[p, 2 * i], math.sin(p / 10000 ** (2 * i / 6)), rel_tol=1e-6)
    assert math.isclose(pe[p, 2 * i + 1], math.cos(p / 10000 ** (2 * i / 6)), rel_tol=1e-6)
    assert sinusoidal_positions(4, 5).shape == (4, 5)


def test_calendar_embedding_maps_fractions_to_slots_and_days():
    emb = CalendarEmbedding(steps_per_day=4, dim=3)
    cov = torch.tensor([[0.0, 0.0], [0.26, 6.0], [0.99, 2.0]])
    ref = emb.tod.weight[[0, 1, 3]] + emb.dow.weight[[0, 6, 2]]
    torch.testing.assert_close(emb(cov), ref)
    f = calendar_fourier(torch.tensor([[0.25, 7 / 4]]))
    torch.testing.assert_close(f, torch.tensor([[1.0, 0.0, 1.0, 0.0]]), atol=1e-6, rtol=0)


def test_calendar_embedding_slots_are_exact_for_one_minute_data():
    # a week of 1-minute stamps: every stamp must land in its own minute-of-day slot (a
    # float32 fraction floored put 518 of the 10,080 into the previous slot)
    ts = pd.date_range("2024-01-01", periods=7 * 1440, freq="min")
    cov = torch.from_numpy(calendar_features(ts))[:, 0]
    emb = CalendarEmbedding(steps_per_day=1440, dim=2)
    minute = torch.from_numpy(np.arange(len(ts)) % 1440)
    ref = emb.tod.weight[minute] + emb.dow.weight[torch.from_numpy(np.arange(len(ts)) // 1440)]
    assert torch.equal(emb(cov), ref)
