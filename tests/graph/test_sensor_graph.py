"""SensorGraph: validation, immutability, conversions, normalisations, subgraphs."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from stgraph.graph import SensorGraph
from stgraph.graph.normalization import normalize, propagation_dense


def line_graph() -> SensorGraph:
    return SensorGraph(
        ["a", "b", "c"],
        [[0, 1, 1], [1, 2, 0]],
        [1.0, 2.0, 0.5],
        coords=[[0, 0], [1, 0], [2, 0]],
        crs="EPSG:3857",
        name="line",
    )


def test_accessors_return_copies_so_the_graph_is_immutable():
    g = line_graph()
    ei = g.edge_index
    ei[0, 0] = 2
    g.edge_weight.mul_(100)
    assert g.edge_index[0, 0] == 0 and float(g.edge_weight.max()) == 2.0
    with pytest.raises(ValueError):
        g.coords[0, 0] = 5.0  # read-only array
    with pytest.raises(AttributeError):
        g.foo = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(node_ids=["a", "a"], edge_index=[[0], [1]]), "duplicate node id 'a'"),
        (dict(node_ids=["a", "b"], edge_index=[[0], [2]]), "outside \\[0, 2\\)"),
        (
            dict(node_ids=["a", "b"], edge_index=[[0], [1]], edge_weight=[-1.0]),
            "'a' -> 'b' has weight -1",
        ),
        (dict(node_ids=["a", "b"], edge_index=[[0], [1]], edge_weight=[np.nan]), "must be finite"),
        (dict(node_ids=["a", "b"], edge_index=[[0, 0], [1, 1]]), "duplicate edge 'a' -> 'b'"),
        (dict(node_ids=["a", "b"], edge_index=[[0], [1]], directed=False), "no reverse"),
        (
            dict(node_ids=["a", "b"], edge_index=[[0], [1]], coords=[[0, 0], [1, 1]]),
            "without a CRS",
        ),
        (
            dict(
                node_ids=["a", "b"],
                edge_index=[[0], [1]],
                coords=[[0, 0], [np.nan, 1]],
                crs="EPSG:4326",
            ),
            "node 'b' has non-finite coordinates",
        ),
        (dict(node_ids=["a", "b"], edge_index=[[0.5], [1]]), "integers"),
    ],
)
def test_invalid_graphs_are_rejected_with_named_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SensorGraph(**kwargs)


def test_dense_scipy_networkx_round_trips_preserve_edges_and_coords():
    g = line_graph()
    a = g.to_dense()
    assert a[0, 1] == 1.0 and a[1, 2] == 2.0 and a[1, 0] == 0.5 and a.sum() == 3.5
    assert SensorGraph.from_dense(a, g.node_ids, coords=g.coords, crs=g.crs, name="line") == g
    assert (
        SensorGraph.from_scipy(g.to_scipy(), g.node_ids, coords=g.coords, crs=g.crs, name="line")
        == g
    )
    back = SensorGraph.from_networkx(g.to_networkx(), name="line")
    assert back == g
    assert SensorGraph.from_dict(g.to_dict()) == g


def test_undirected_networkx_graph_becomes_symmetric_edge_list():
    nxg = nx.Graph()
    nxg.add_edge("x", "y", weight=2.0)
    nxg.add_edge("y", "y", weight=1.0)
    g = SensorGraph.from_networkx(nxg)
    assert not g.directed and g.num_edges == 3
    assert np.allclose(g.to_dense(), g.to_dense().T)


def test_from_dense_infers_direction_and_drops_zeros():
    assert SensorGraph.from_dense(np.array([[0, 1], [1, 0]])).directed is False
    assert SensorGraph.from_dense(np.array([[0, 1], [0, 0]])).directed is True
    assert SensorGraph.from_dense(np.zeros((3, 3))).num_edges == 0


def test_sym_normalisation_matches_dense_formula():
    rng = np.random.default_rng(0)
    a = rng.random((6, 6)) * (rng.random((6, 6)) < 0.5)
    a = np.maximum(a, a.T)
    np.fill_diagonal(a, 0)
    g = SensorGraph.from_dense(a)
    ei, w = normalize(g.edge_index, g.edge_weight, 6, "sym", self_loops=True)
    ah = a + np.eye(6)
    d = ah.sum(0) ** -0.5
    expected = (d[:, None] * ah * d[None, :]).T
    assert np.allclose(propagation_dense(ei, w, 6).numpy(), expected, atol=1e-6)


def test_random_walk_normalisation_rows_sum_to_one():
    g = line_graph()
    ei, w = normalize(g.edge_index, g.edge_weight, 3, "rw")
    a = sp.csr_matrix((w.numpy(), ei.numpy()), shape=(3, 3)).toarray()
    assert np.allclose(a.sum(1), [1, 1, 0])  # node c has no out-edge
    ei2, w2 = normalize(g.edge_index, g.edge_weight, 3, "rw_in")
    p = propagation_dense(ei2, w2, 3).numpy()
    assert np.allclose(p.sum(1), [1, 1, 1])


def test_normalized_and_symmetrized_return_new_graphs():
    g = line_graph()
    s = g.symmetrized("max")
    assert not s.directed and s.to_dense()[1, 0] == 1.0 and s.to_dense()[0, 1] == 1.0
    assert g.to_dense()[1, 0] == 0.5  # original untouched
    n = g.normalized("rw")
    assert torch.allclose(n.edge_weight.sum(), torch.tensor(2.0))


def test_subgraph_keeps_induced_edges_coords_and_order():
    g = line_graph()
    sub = g.subgraph(["c", "b"])
    assert sub.node_ids == ("c", "b")
    assert sub.to_dense().tolist() == [[0, 0], [2.0, 0]]
    assert sub.coords.tolist() == [[2, 0], [1, 0]]
    with pytest.raises(KeyError, match="unknown node id 'z'"):
        g.subgraph(["z"])


def test_isolated_nodes_are_reported():
    g = SensorGraph(["a", "b", "c"], [[0, 2], [1, 2]])
    assert g.isolated_nodes() == ["c"]
