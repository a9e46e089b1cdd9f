"""Inverse-distance weighting: exact on hand cases, masks respected, k nearest observed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stgraph.graph import SensorGraph
from stgraph.graph.geo import haversine
from stgraph.graph.idw import idw_interpolate, station_distances


def _col(*vals: float) -> torch.Tensor:
    """Values of S sources, one feature: [S, 1]."""
    return torch.tensor(vals, dtype=torch.float32)[:, None]


def test_power_two_weights_by_hand():
    # distances 1 and 2: weights 1 and 1/4 -> (10 * 1 + 20 / 4) / 1.25 = 12
    est, ok = idw_interpolate(_col(10, 20), None, torch.tensor([[1.0, 2.0]]))
    assert ok.all()
    assert est[0, 0].item() == pytest.approx(12.0)


def test_source_at_zero_distance_is_the_value():
    est, _ = idw_interpolate(_col(7, 100, -50), None, torch.tensor([[0.0, 1.0, 0.5]]))
    assert est[0, 0].item() == pytest.approx(7.0)


def test_two_sources_at_zero_distance_average():
    est, _ = idw_interpolate(_col(4, 8, 100), None, torch.tensor([[0.0, 0.0, 1.0]]))
    assert est[0, 0].item() == pytest.approx(6.0)


def test_equal_distances_give_the_plain_mean():
    est, _ = idw_interpolate(_col(1, 2, 6), None, torch.full((1, 3), 3.0))
    assert est[0, 0].item() == pytest.approx(3.0)


def test_unobserved_sources_are_skipped_even_at_zero_distance():
    mask = torch.tensor([[False], [True], [True]])
    est, _ = idw_interpolate(_col(999, 10, 20), mask, torch.tensor([[0.0, 1.0, 2.0]]))
    assert est[0, 0].item() == pytest.approx(12.0)


def test_k_nearest_counts_observed_sources_only():
    # nearest source is missing, so k=1 picks the second nearest
    mask = torch.tensor([[False], [True], [True]])
    est, _ = idw_interpolate(_col(999, 10, 20), mask, torch.tensor([[0.5, 1.0, 2.0]]), k=1)
    assert est[0, 0].item() == pytest.approx(10.0)


def test_nothing_observed_is_flagged():
    mask = torch.zeros(2, 1, dtype=torch.bool)
    est, ok = idw_interpolate(_col(1, 2), mask, torch.tensor([[1.0, 2.0]]))
    assert not ok.any() and est[0, 0].item() == 0.0


def test_leading_dims_are_entrywise():
    # two time steps with different observed sources give different estimates
    v = torch.tensor([[10.0, 20.0], [10.0, 20.0]])[..., None]  # [T=2, S=2, F=1]
    m = torch.tensor([[True, True], [True, False]])[..., None]
    est, _ = idw_interpolate(v, m, torch.tensor([[1.0, 1.0]]))
    assert est[:, 0, 0].tolist() == pytest.approx([15.0, 10.0])


def test_bad_distances_are_refused():
    with pytest.raises(ValueError, match="sources"):
        idw_interpolate(_col(1, 2), None, torch.ones(1, 3))
    with pytest.raises(ValueError, match=">= 0"):
        idw_interpolate(_col(1, 2), None, torch.tensor([[-1.0, 1.0]]))


def test_station_distances_are_planar_for_projected_crs():
    xy = np.array([[0.0, 0.0], [3.0, 4.0]])
    g = SensorGraph(["a", "b"], np.zeros((2, 0), dtype=np.int64), coords=xy, crs="EPSG:32633")
    assert station_distances(g, [0], [1])[0, 0] == pytest.approx(5.0)


def test_station_distances_are_great_circle_for_lonlat():
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    g = SensorGraph(["a", "b", "c"], np.zeros((2, 0), dtype=np.int64), coords=xy, crs="EPSG:4326")
    d = station_distances(g, [0], [1, 2])
    assert d[0] == pytest.approx(haversine(xy[[0, 0]], xy[[1, 2]]))
    assert d[0, 0] == pytest.approx(111_195, rel=1e-3)  # one degree of the equator


def test_station_distances_need_coordinates():
    g = SensorGraph(["a", "b"], np.zeros((2, 0), dtype=np.int64))
    with pytest.raises(ValueError, match="coordinates"):
        station_distances(g, [0], [1])


def test_k_as_large_as_the_sources_equals_all_sources():
    gen = torch.Generator().manual_seed(0)
    v = torch.randn(5, 6, 2, generator=gen)
    m = torch.rand(5, 6, 2, generator=gen) < 0.6
    d = torch.rand(3, 6, generator=gen)
    d[0, 2] = 0.0  # one source on top of a target
    all_est, all_ok = idw_interpolate(v, m, d)
    k_est, k_ok = idw_interpolate(v, m, d, k=6)
    assert torch.equal(all_ok, k_ok)
    assert torch.allclose(all_est, k_est, atol=1e-6)
    assert not torch.allclose(all_est, idw_interpolate(v, m, d, k=1)[0])
