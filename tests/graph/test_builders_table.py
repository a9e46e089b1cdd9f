"""Distance-table and distance-matrix builders: the DCRNN / ASTGCN / STGCN recipes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stgraph.graph import IsolatedNodesWarning, build
from stgraph.graph.builders.table import distance_matrix_graph, distance_table_graph
from stgraph.graph.kernels import gaussian_kernel

IDS = ["a", "b", "c", "d"]


def table(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["from", "to", "cost"])


ROWS = [("a", "a", 0.0), ("a", "b", 100.0), ("b", "a", 300.0), ("b", "c", 150.0),
        ("c", "d", 120.0), ("d", "d", 0.0), ("c", "c", 0.0), ("b", "b", 0.0)]  # fmt: skip


def test_gaussian_table_equals_the_dense_dcrnn_kernel_with_inf_for_unlisted_pairs():
    dense = np.full((4, 4), np.inf)
    for f, t, c in ROWS:
        dense[IDS.index(f), IDS.index(t)] = c
    g = distance_table_graph(table(ROWS), IDS)
    np.testing.assert_allclose(g.to_dense(), gaussian_kernel(dense), atol=1e-7)
    assert g.directed  # a -> b and b -> a have different costs


def test_repeated_pairs_merge_when_equal_and_refuse_when_they_conflict():
    repeated = table([*ROWS, ("a", "b", 100.0)])
    assert distance_table_graph(repeated, IDS) == distance_table_graph(table(ROWS), IDS)
    conflict = table([*ROWS, ("b", "c", 170.0)])
    with pytest.raises(ValueError, match=r"'b' -> 'c' is listed with different costs \[150.0, 170"):
        distance_table_graph(conflict, IDS)
    low = distance_table_graph(conflict, IDS, duplicates="min", weight="distance")
    assert low.to_dense()[1, 2] == 150.0
    high = distance_table_graph(conflict, IDS, duplicates="max", weight="distance")
    assert high.to_dense()[1, 2] == 170.0


def test_symmetric_tables_keep_the_shorter_direction_and_are_undirected():
    g = distance_table_graph(table(ROWS), IDS, symmetric=True, weight="distance")
    a = g.to_dense()
    assert not g.directed and a[0, 1] == a[1, 0] == 100.0 and a[3, 2] == 120.0


def test_astgcn_connectivity_and_inverse_distance_weights():
    rows = [(0, 1, 2.0), (1, 2, 4.0), (3, 0, 0.5)]
    ones = distance_table_graph(table(rows), range(4), weight="ones")
    expected = np.zeros((4, 4))
    for f, t, _ in rows:  # ASTGCN: A[from, to] = 1 for every listed row
        expected[f, t] = 1
    np.testing.assert_array_equal(ones.to_dense(), expected)
    inv = distance_table_graph(table(rows), range(4), weight="inverse")
    assert inv.to_dense()[3, 0] == 2.0 and inv.to_dense()[1, 2] == 0.25
    with pytest.raises(ValueError, match="needs positive distances"):
        distance_table_graph(table([*rows, (2, 2, 0.0)]), range(4), weight="inverse")


def test_table_input_errors_name_the_row():
    with pytest.raises(ValueError, match="row 1 names sensor 'z', which is not in the id list"):
        distance_table_graph(table([("a", "b", 1.0), ("b", "z", 2.0)]), IDS)
    dropped = distance_table_graph(
        table([("a", "b", 1.0), ("b", "z", 2.0), ("c", "d", 1.0), ("b", "c", 1.0)]),
        IDS,
        unknown="drop",
        weight="ones",
    )
    assert dropped.num_edges == 3
    with pytest.raises(ValueError, match="row 0: cost nan"):
        distance_table_graph(table([("a", "b", np.nan)]), IDS)
    with pytest.raises(ValueError, match="duplicate sensor id 'a'"):
        distance_table_graph(table([("a", "b", 1.0)]), ["a", "b", "a"])


def test_sensors_absent_from_the_table_warn_and_coordinates_are_attached():
    with pytest.warns(IsolatedNodesWarning, match="'d'"):
        g = build(
            "distance-table",
            table([("a", "b", 1.0), ("b", "c", 1.0)]),
            IDS,
            weight="ones",
            coords=[[0, 0], [1, 0], [2, 0], [3, 0]],
        )
    assert g.crs == "EPSG:4326" and g.coords[3, 0] == 3.0


def test_distance_matrix_stgcn_recipe():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 6000, (30, 2))
    d = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    g = distance_matrix_graph(d, sigma=10000 * np.sqrt(0.1), kappa=0.5)
    w = np.exp(-((d / 10000) ** 2) / 0.1)  # STGCN: exp(-d^2 / sigma^2) >= eps, i != j
    w[(w < 0.5) | np.eye(30, dtype=bool)] = 0
    np.testing.assert_allclose(g.to_dense(), w, atol=1e-6)
    assert not g.directed
    with pytest.raises(ValueError, match="3 ids for a 30x30"):
        distance_matrix_graph(d, ids=["a", "b", "c"])
