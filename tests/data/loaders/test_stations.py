"""Interim station-graph builder: haversine distances, kNN and Gaussian graphs."""

from __future__ import annotations

import numpy as np
import pytest

from stgraph.data.loaders._stations import pairwise_distance, station_graph


def test_haversine_distance_of_known_pairs():
    # Paris (2.3522 E, 48.8566 N) - London (-0.1276 E, 51.5072 N): about 343.5 km
    d = pairwise_distance(np.array([[2.3522, 48.8566], [-0.1276, 51.5072]]), "EPSG:4326")
    assert d[0, 1] == pytest.approx(343.5, abs=1.0) and d[0, 0] == 0 and d[1, 0] == d[0, 1]
    # one degree of latitude is about 111.2 km; projected coordinates are Euclidean
    assert pairwise_distance(np.array([[0, 0], [0, 1.0]]), "EPSG:4326")[0, 1] == pytest.approx(
        111.19, abs=0.01
    )
    assert pairwise_distance(np.array([[0, 0], [3.0, 4.0]]), "EPSG:32650")[0, 1] == 5.0


def test_knn_links_nearest_neighbours_symmetrically():
    xy = np.array([[0.0, 0.0], [0.01, 0.0], [0.02, 0.0], [1.0, 0.0]])
    g = station_graph(list("abcd"), xy, method="knn", k=1)
    edges = {tuple(e) for e in g.edge_index.T.tolist()}
    assert edges == {(0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2)}  # d's nearest is c
    assert not g.directed and (g.edge_weight > 0).all() and g.crs == "EPSG:4326"
    w = dict(zip(map(tuple, g.edge_index.T.tolist()), g.edge_weight.tolist(), strict=True))
    assert w[(0, 1)] > w[(2, 3)]  # nearer -> heavier


def test_gaussian_threshold_and_errors():
    xy = np.array([[0.0, 0.0], [0.01, 0.0], [5.0, 5.0]])
    g = station_graph(list("abc"), xy, method="gaussian", kappa=0.5)
    assert {tuple(e) for e in g.edge_index.T.tolist()} == {(0, 1), (1, 0)}
    with pytest.raises(ValueError, match="unknown graph method 'ring'"):
        station_graph(list("abc"), xy, method="ring")
    with pytest.raises(ValueError, match="coords must be finite"):
        station_graph(list("abc"), np.array([[0, 0], [np.nan, 0], [1, 1]]))
