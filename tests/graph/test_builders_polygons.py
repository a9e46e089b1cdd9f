"""Contiguity builder: queen/rook neighbours of polygons (grid cells reproduce lattices)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, Polygon, box

from stgraph.graph import IsolatedNodesWarning, build, lattice_graph
from stgraph.graph.builders.polygons import contiguity_graph


def cells(h: int, w: int, gap: float = 0.0) -> gpd.GeoDataFrame:
    """Unit squares as polygons, ids as in lattice_graph."""
    rows = [(f"r{r}_c{c}", box(c + gap, r + gap, c + 1 - gap, r + 1 - gap))
            for r in range(h) for c in range(w)]  # fmt: skip
    ids, geoms = zip(*rows, strict=True)
    return gpd.GeoDataFrame({"cell": ids}, geometry=list(geoms), crs="EPSG:3857")


def edge_ids(g) -> set[tuple[str, str]]:
    return {(g.node_ids[s], g.node_ids[t]) for s, t in g.edge_index.T.tolist()}


@pytest.mark.parametrize(("rule", "neighbours"), [("rook", 4), ("queen", 8)])
def test_grid_cell_polygons_reproduce_the_lattice(rule, neighbours):
    g = contiguity_graph(cells(4, 5), rule=rule, ids="cell")
    assert edge_ids(g) == edge_ids(lattice_graph((4, 5), neighbours=neighbours))
    assert not g.directed and set(g.edge_weight.tolist()) == {1.0}
    np.testing.assert_allclose(g.coords[g.index_of("r2_c3")], [3.5, 2.5])  # centroids


def test_tolerance_bridges_digitising_gaps_but_corners_stay_out_of_rook():
    gappy = cells(2, 2, gap=1e-6)
    with pytest.warns(IsolatedNodesWarning, match="4 of 4"):
        contiguity_graph(gappy, ids="cell")
    rook = contiguity_graph(gappy, rule="rook", ids="cell", tolerance=1e-3)
    queen = contiguity_graph(gappy, rule="queen", ids="cell", tolerance=1e-3)
    assert edge_ids(rook) == edge_ids(lattice_graph((2, 2), neighbours=4))
    assert edge_ids(queen) == edge_ids(lattice_graph((2, 2), neighbours=8))


def test_nested_and_overlapping_polygons_are_neighbours_islands_warn():
    frame = gpd.GeoDataFrame(
        geometry=[box(0, 0, 10, 10), box(2, 2, 3, 3), box(9, 9, 12, 12), box(50, 50, 51, 51)],
        crs="EPSG:3857",
    )
    with pytest.warns(IsolatedNodesWarning, match="1 of 4 nodes have no edge: '3'"):
        g = build("contiguity", frame, rule="rook")
    assert edge_ids(g) == {("0", "1"), ("1", "0"), ("0", "2"), ("2", "0")}


@pytest.mark.parametrize(
    ("geoms", "kwargs", "message"),
    [
        ([box(0, 0, 1, 1), Polygon()], {}, "row 1 has an empty geometry"),
        ([box(0, 0, 1, 1), Point(5, 5)], {}, "row 1 is a Point; expected Polygon"),
        ([Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]), box(0, 0, 1, 1)], {}, "row 0 is not a valid"),
        ([box(0, 0, 1, 1), box(1, 0, 2, 1)], {"rule": "bishop"}, "rule must be"),
        ([box(0, 0, 1, 1), box(1, 0, 2, 1)], {"ids": ["a", "a"]}, "duplicate polygon id 'a'"),
    ],
)
def test_bad_polygons_are_named(geoms, kwargs, message):
    with pytest.raises(ValueError, match=message):
        contiguity_graph(gpd.GeoDataFrame(geometry=geoms, crs="EPSG:4326"), **kwargs)
    with pytest.raises(ValueError, match="polygons have no CRS"):
        contiguity_graph(gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)]))
