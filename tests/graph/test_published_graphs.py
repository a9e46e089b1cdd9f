"""Published graphs rebuilt from their raw files (DCRNN, T-GCN, STGCN, ASTGCN/STSGCN)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse.csgraph as csgraph

from stgraph.graph import IsolatedNodesWarning, SensorGraph, build
from stgraph.graph.io import read_dcrnn_adj_pickle, read_distance_table, read_sensor_ids

pytestmark = pytest.mark.realdata


def test_pems_bay_adjacency_is_the_dcrnn_kernel_of_its_distance_table(data_root):
    ids, index, published = read_dcrnn_adj_pickle(data_root / "pems_bay_graph/adj_mx_bay.pkl")
    assert len(ids) == 325 and index[ids[7]] == 7
    table = read_distance_table(data_root / "pems_bay_graph/distances_bay_2017.csv", ids)
    assert len(table) == 8358
    with pytest.warns(IsolatedNodesWarning, match="6 of 325 nodes"):  # only self-loops
        g = build("distance-table", table, ids, weight="gaussian", kappa=0.1)
    rebuilt = g.to_dense()
    assert g.num_edges == int((published != 0).sum()) == 2694
    np.testing.assert_array_equal(rebuilt != 0, published != 0)
    assert np.abs(rebuilt - published).max() < 1e-6


def test_metr_la_pickle_order_matches_its_id_list(data_root):
    ids, _, adj = read_dcrnn_adj_pickle(data_root / "metr_la_graph/adj_mx.pkl")
    assert ids == read_sensor_ids(data_root / "metr_la_graph/graph_sensor_ids.txt")
    assert int((adj != 0).sum()) == 1722 and not np.array_equal(adj, adj.T)


def test_los_loop_adjacency_is_metr_la_symmetrised_by_max(data_root):
    ids, _, adj = read_dcrnn_adj_pickle(data_root / "metr_la_graph/adj_mx.pkl")
    metr = SensorGraph.from_dense(adj, ids, name="metr-la")
    assert metr.directed
    los = np.loadtxt(data_root / "los_loop/los_adj.csv", delimiter=",")
    sym = metr.symmetrized("max")
    assert not sym.directed and sym.num_edges == int((los != 0).sum()) == 2833
    assert np.abs(sym.to_dense() - los).max() < 1e-6


def test_pemsd7m_graph_follows_the_stgcn_recipe(data_root):
    dist = np.loadtxt(data_root / "pemsd7m/PeMSD7_W_228.csv", delimiter=",")
    info = pd.read_csv(data_root / "pemsd7m/PeMSD7_M_Station_Info.csv", index_col=0)
    ids, lonlat = info["ID"].astype(str).tolist(), info[["Longitude", "Latitude"]].to_numpy()
    recipe = dict(sigma=10000 * np.sqrt(0.1), kappa=0.5)
    with pytest.warns(IsolatedNodesWarning, match="3 of 228 nodes"):
        g = build("distance-matrix", dist, ids, coords=lonlat, name="pemsd7m", **recipe)
    assert g.num_nodes == 228 and g.num_edges == 1668 and not g.directed
    assert g.edge_weight.min() >= 0.5 and (g.edge_index[0] != g.edge_index[1]).all()
    # The released distances track great-circle station distances (median ratio 0.994), so
    # the point builder on the station coordinates recovers almost the same graph.
    with pytest.warns(IsolatedNodesWarning):
        from_points = build("gaussian", lonlat, ids=ids, **recipe)
    ours = set(map(tuple, from_points.edge_index.T.tolist()))
    theirs = set(map(tuple, g.edge_index.T.tolist()))
    assert len(ours & theirs) >= 0.95 * len(theirs)


def astgcn_connectivity(path, ids) -> np.ndarray:
    """ASTGCN's reference loop: A[from, to] = 1 for every listed row (self-pairs included)."""
    where = {str(v): i for i, v in enumerate(ids)}
    a = np.zeros((len(ids), len(ids)))
    for f, t, _ in pd.read_csv(path).itertuples(index=False):
        a[where[str(f)], where[str(t)]] = 1
    return a


@pytest.mark.parametrize(
    ("name", "n", "rows", "directed_edges", "undirected_pairs", "components"),
    [
        ("PEMS03", 358, 547, 547, 547, 8),
        ("PEMS04", 307, 340, 340, 340, 12),
        ("PEMS07", 883, 866, 866, 866, 17),
        ("PEMS08", 170, 295, 277, 274, 1),
    ],
)
def test_pems_edge_lists(data_root, name, n, rows, directed_edges, undirected_pairs, components):
    path = data_root / f"pems_distances/{name}.csv"
    ids = read_sensor_ids(path.with_suffix(".txt")) if name == "PEMS03" else list(range(n))
    assert len(ids) == n and len(read_distance_table(path, ids)) == rows
    g = build("distance-table", path, ids, weight="ones", name=name)
    np.testing.assert_array_equal(g.to_dense(), astgcn_connectivity(path, ids))
    assert g.num_edges == directed_edges and not g.isolated_nodes()
    sym = build("distance-table", path, ids, weight="distance", symmetric=True)
    loops = int((sym.edge_index[0] == sym.edge_index[1]).sum())  # PEMS03 lists 314013 -> itself
    assert (sym.num_edges + loops) // 2 == undirected_pairs and not sym.directed
    count, _ = csgraph.connected_components(sym.to_scipy(), directed=False)
    assert count == components
