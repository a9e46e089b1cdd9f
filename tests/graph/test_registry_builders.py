"""Builder registry: every registered builder is exercised and returns a geo-referenced graph."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, box

from stgraph.graph import SensorGraph, build, get_builder, list_builders, register_builder

POINTS = np.array([[-122.40, 37.70], [-122.39, 37.71], [-122.41, 37.72], [-122.38, 37.69]])
ROADS = gpd.GeoDataFrame(geometry=[LineString(POINTS[[3, 0, 1, 2]])], crs="EPSG:4326")

EXAMPLES = {
    "contiguity": lambda: build(
        "contiguity",
        gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs="EPSG:3857"),
    ),
    "delaunay": lambda: build("delaunay", POINTS),
    "distance-matrix": lambda: build(
        "distance-matrix", [[0.0, 1.0], [1.0, 0.0]], coords=POINTS[:2], kappa=0.01
    ),
    "distance-table": lambda: build(
        "distance-table",
        pd.DataFrame({"from": ["a", "b"], "to": ["b", "a"], "cost": [1.0, 2.0]}),
        ["a", "b"],
        weight="ones",
        coords=POINTS[:2],
    ),
    "gaussian": lambda: build("gaussian", POINTS, kappa=0.01),
    "knn": lambda: build("knn", POINTS, k=2),
    "lattice": lambda: build("lattice", (2, 3)),
    "radius": lambda: build("radius", POINTS, 3000.0),
    "road-network": lambda: build("road-network", ROADS, POINTS, kappa=0.01),
}


def test_every_registered_builder_has_an_example_here():
    assert {e.name for e in list_builders()} == set(EXAMPLES)
    assert all(e.description for e in list_builders())


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_builder_returns_a_connected_geo_referenced_sensor_graph(name):
    g = EXAMPLES[name]()
    assert isinstance(g, SensorGraph)
    assert g.coords is not None and g.crs is not None and g.coords.shape == (g.num_nodes, 2)
    assert g.num_edges > 0 and not g.isolated_nodes()
    assert (g.edge_weight > 0).all()


def test_unknown_names_list_the_known_ones_and_names_are_unique():
    with pytest.raises(KeyError, match="unknown graph builder 'voronoi'; known: contiguity"):
        get_builder("voronoi")
    with pytest.raises(ValueError, match="already registered"):
        register_builder("knn", "again")(lambda: None)
