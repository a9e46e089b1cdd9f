"""A fully observed series is held without copies: the values share the given array and the
mask is a stride-0 view; a series with missing entries keeps its own zero-filled copy."""

import numpy as np
import pandas as pd
import torch

from stgraph.data import SpatioTemporalData, WindowDataset
from stgraph.graph import SensorGraph


def make(values: np.ndarray) -> SpatioTemporalData:
    ts = pd.date_range("2024-01-01", periods=values.shape[0], freq="5min")
    ids = [f"s{i}" for i in range(values.shape[1])]
    graph = SensorGraph(ids, np.array([[0, 1], [1, 0]]), np.ones(2), name="g")
    return SpatioTemporalData(values, None, ts, graph, ("a", "b"))


def test_fully_observed_values_are_not_copied_and_the_mask_takes_no_memory():
    raw = np.random.default_rng(0).standard_normal((40, 2, 2)).astype(np.float32)
    d = make(raw)
    assert d.values.data_ptr() == raw.ctypes.data
    assert d.mask.shape == (40, 2, 2) and bool(d.mask.all())
    assert d.mask.untyped_storage().nbytes() == 1
    b = WindowDataset(d, np.array([0, 3]), 4, 2).batch(np.array([0, 1]))
    torch.testing.assert_close(b.x[1], torch.from_numpy(raw[3:7]))
    assert b.x_mask.all() and b.y_mask.shape == (2, 2, 2, 2)


def test_missing_entries_get_a_zero_filled_copy_and_a_real_mask():
    raw = np.ones((10, 2, 2), np.float32)
    raw[3, 1, 0] = np.nan
    d = make(raw)
    assert np.isnan(raw[3, 1, 0])  # the caller's array is untouched
    assert float(d.values[3, 1, 0]) == 0.0 and not bool(d.mask[3, 1, 0])
    assert int(d.mask.sum()) == 39
