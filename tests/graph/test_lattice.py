"""Lattice graphs: node order, neighbourhoods, masks, coordinates, offsets, grid reshapes."""

from __future__ import annotations

import warnings

import networkx as nx
import numpy as np
import pytest
import torch

from stgraph.graph import IsolatedNodesWarning, build
from stgraph.graph.lattice import (
    GRID_CRS,
    OFFSETS,
    grid_to_nodes,
    lattice_graph,
    lattice_offsets,
    nodes_to_grid,
)


def edge_set(graph) -> set[tuple[str, str]]:
    ids = graph.node_ids
    return {(ids[s], ids[t]) for s, t in graph.edge_index.T.tolist()}


def networkx_grid(h: int, w: int, diagonal: bool) -> set[tuple[str, str]]:
    g = nx.grid_2d_graph(h, w)
    if diagonal:
        g.add_edges_from(
            ((r, c), (r + 1, c + d))
            for r in range(h - 1)
            for c in range(w)
            for d in (-1, 1)
            if 0 <= c + d < w
        )
    name = {v: f"r{v[0]}_c{v[1]}" for v in g.nodes}
    return {(name[a], name[b]) for a, b in g.edges} | {(name[b], name[a]) for a, b in g.edges}


@pytest.mark.parametrize(("neighbours", "diagonal"), [(4, False), (8, True)])
def test_lattice_edges_equal_the_networkx_grid(neighbours, diagonal):
    g = lattice_graph((4, 5), neighbours=neighbours)
    assert g.node_ids[:6] == ("r0_c0", "r0_c1", "r0_c2", "r0_c3", "r0_c4", "r1_c0")
    assert edge_set(g) == networkx_grid(4, 5, diagonal)
    assert not g.directed and g.num_edges == len(networkx_grid(4, 5, diagonal))
    assert g == build("lattice", (4, 5), neighbours=neighbours)


def test_mask_drops_cells_and_their_edges_and_keeps_row_major_order():
    mask = np.zeros((3, 4), dtype=bool)
    mask[1, 1] = mask[0, 3] = True
    g = lattice_graph((3, 4), mask=mask)
    kept = [f"r{r}_c{c}" for r in range(3) for c in range(4) if not mask[r, c]]
    assert list(g.node_ids) == kept
    full = edge_set(lattice_graph((3, 4)))
    assert edge_set(g) == {e for e in full if "r1_c1" not in e and "r0_c3" not in e}


def test_coordinates_are_lonlat_from_1d_or_2d_axes_and_indices_otherwise():
    lat, lon = np.array([-2.0, 0.0, 2.0]), np.array([170.0, 172.0])
    g = lattice_graph(lat=lat, lon=lon)
    assert g.crs == "EPSG:4326" and g.num_nodes == 6
    np.testing.assert_array_equal(g.coords[g.index_of("r2_c1")], [172.0, 2.0])
    la2, lo2 = np.meshgrid(lat, lon, indexing="ij")
    assert lattice_graph(lat=la2, lon=lo2) == g
    plain = lattice_graph((3, 2))
    assert plain.crs == GRID_CRS
    np.testing.assert_array_equal(plain.coords[plain.index_of("r2_c1")], [1.0, 2.0])


def test_offsets_are_source_minus_target_in_conv_kernel_order():
    g = lattice_graph((3, 3), neighbours=8)
    types = lattice_offsets(g).tolist()
    ids = g.node_ids
    for (s, t), k in zip(g.edge_index.T.tolist(), types, strict=True):
        (rs, cs), (rt, ct) = (tuple(int(p[1:]) for p in ids[v].split("_")) for v in (s, t))
        assert OFFSETS[k] == (rs - rt, cs - ct)
    assert sorted(set(types)) == [0, 1, 2, 3, 5, 6, 7, 8]


def test_offsets_reject_graphs_that_are_not_lattices():
    g = lattice_graph((2, 3))
    far = g.replace(edge_index=[[0], [2]], edge_weight=None, directed=True)
    with pytest.raises(ValueError, match=r"'r0_c0' -> 'r0_c2' has offset \(0, -2\)"):
        lattice_offsets(far)
    with pytest.raises(ValueError, match="not a lattice cell id"):
        lattice_offsets(g.replace(node_ids=[f"n{i}" for i in range(6)]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(), "needs shape"),
        (dict(shape=(2, 2), neighbours=6), "neighbours must be 4 or 8"),
        (dict(shape=(2, 2), mask=np.zeros((2, 2))), "must be a bool array"),
        (dict(shape=(2, 2), mask=np.zeros((2, 3), dtype=bool)), r"expected the grid shape"),
        (dict(lat=[0.0, 1.0]), "give both lat and lon"),
        (dict(shape=(3, 3), lat=[0.0, 1.0], lon=[5.0]), "disagrees with lat/lon"),
        (dict(lat=[0.0, 95.0], lon=[5.0]), r"cell 'r1_c0' .* lat in \[-90, 90\]"),
        (dict(lat=[0.0, np.nan], lon=[5.0]), "'r1_c0' .* non-finite"),
    ],
)
def test_bad_lattice_input_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        lattice_graph(**kwargs)


def test_isolated_cells_warn_by_name():
    mask = np.array([[False, True, False], [True, True, False]])
    with pytest.warns(IsolatedNodesWarning, match="1 of 3 nodes have no edge: 'r0_c0'"):
        lattice_graph((2, 3), mask=mask)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lattice_graph((2, 3), neighbours=8)


@pytest.mark.parametrize("as_tensor", [False, True])
def test_grid_and_node_values_round_trip(as_tensor):
    rng = np.random.default_rng(0)
    grid = rng.normal(size=(5, 3, 4, 2)).astype(np.float32)
    mask = np.zeros((3, 4), dtype=bool)
    mask[2, 1:] = True
    values = torch.from_numpy(grid) if as_tensor else grid
    nodes = grid_to_nodes(values, mask)
    assert type(nodes) is type(values) and tuple(nodes.shape) == (5, 9, 2)
    g = lattice_graph((3, 4), mask=mask)
    r, c = 1, 3  # node order matches the lattice graph's
    np.testing.assert_array_equal(np.asarray(nodes[:, g.index_of(f"r{r}_c{c}")]), grid[:, r, c])
    back = np.asarray(nodes_to_grid(nodes, mask, fill=np.nan))
    np.testing.assert_array_equal(back[:, ~mask], grid[:, ~mask])
    assert np.isnan(back[:, mask]).all()
    flat = grid_to_nodes(grid[..., 0])  # [T, H, W] -> [T, N, 1]
    assert flat.shape == (5, 12, 1)
    np.testing.assert_array_equal(nodes_to_grid(flat, shape=(3, 4))[..., 0], grid[..., 0])


def test_grid_reshape_errors():
    with pytest.raises(ValueError, match=r"\[T, H, W, F\] or \[T, H, W\]"):
        grid_to_nodes(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="needs the grid"):
        nodes_to_grid(np.zeros((1, 4, 1)))
    with pytest.raises(ValueError, match="4 nodes for a grid with 6 kept cells"):
        nodes_to_grid(np.zeros((1, 4, 1)), shape=(2, 3))


@pytest.mark.realdata
def test_pacific_sst_grid_becomes_a_sea_only_lattice(data_root):
    z = np.load(data_root / "pacific_sst" / "pacific_sst_monthly.npz")
    land = z["land_mask"]
    with pytest.warns(IsolatedNodesWarning, match="1 of 2261 nodes"):
        g = lattice_graph(lat=z["lat"], lon=z["lon"], mask=land, name="pacific-sst")
    assert g.num_nodes == int((~land).sum()) == 2261
    assert g.coords[:, 1].min() == -29 and g.coords[:, 0].max() == 290
    nodes = grid_to_nodes(z["sst"], land)
    assert nodes.shape == (399, 2261, 1)
    np.testing.assert_array_equal(nodes_to_grid(nodes, land)[..., 0][:, ~land], z["sst"][:, ~land])
