"""Windows are index views into the series, never copies."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stgraph.data import WindowDataset


def test_items_are_views_sharing_the_series_storage(tiny_traffic):
    ds = WindowDataset(tiny_traffic, np.array([0, 5, 100]), lookback=12, horizon=3)
    item = ds[1]
    base = tiny_traffic.values.untyped_storage().data_ptr()
    for key in ("x", "y"):
        assert item[key].untyped_storage().data_ptr() == base
    assert (
        item["x_mask"].untyped_storage().data_ptr()
        == tiny_traffic.mask.untyped_storage().data_ptr()
    )
    # a view: writing through it is visible in the series (then restore)
    old = float(tiny_traffic.values[5, 0, 0])
    item["x"][0, 0, 0] = -123.0
    assert float(tiny_traffic.values[5, 0, 0]) == -123.0
    tiny_traffic.values[5, 0, 0] = old


def test_window_dataset_stores_only_start_indices(tiny_traffic):
    ds = WindowDataset(tiny_traffic, np.arange(500), lookback=12, horizon=12)
    tensors = [v for v in vars(ds).values() if isinstance(v, torch.Tensor)]
    assert tensors == []  # nothing but the (shared) data object and the index array
    assert ds.starts.nbytes == 500 * 8


def test_items_and_batches_hold_the_right_time_steps(tiny_traffic):
    ds = WindowDataset(tiny_traffic, np.array([7, 40]), lookback=4, horizon=2)
    v = tiny_traffic.values
    assert torch.equal(ds[0]["x"], v[7:11]) and torch.equal(ds[0]["y"], v[11:13])
    b = ds.batch(np.array([1, 0]))
    assert b.x.shape == (2, 4, tiny_traffic.num_nodes, 1) and b.y.shape == (
        2,
        2,
        tiny_traffic.num_nodes,
        1,
    )
    assert torch.equal(b.x[0], v[40:44]) and torch.equal(b.y[1], v[11:13])
    assert b.covariates.shape == (2, 6, 1, 2) and b.start.tolist() == [40, 7]


def test_loader_covers_every_window_once_and_is_seeded(tiny_traffic):
    ds = WindowDataset(tiny_traffic, np.arange(0, 100, 3), lookback=2, horizon=2)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    s1 = torch.cat([b.start for b in ds.loader(8, shuffle=True, generator=g1)])
    s2 = torch.cat([b.start for b in ds.loader(8, shuffle=True, generator=g2)])
    assert torch.equal(s1, s2) and sorted(s1.tolist()) == list(range(0, 100, 3))
    assert ds.num_batches(8) == 5


def test_out_of_range_starts_are_rejected(tiny_traffic):
    with pytest.raises(ValueError, match="window starts must lie in"):
        WindowDataset(tiny_traffic, np.array([tiny_traffic.num_steps - 3]), lookback=2, horizon=2)
