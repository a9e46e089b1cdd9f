"""Road-network builder: snapping, directed shortest-path distances, one-way streets."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, MultiLineString, Point

from stgraph.graph import IsolatedNodesWarning, build
from stgraph.graph.builders.roads import road_digraph, road_distances
from stgraph.graph.geo import haversine
from stgraph.graph.kernels import gaussian_kernel

UTM = "EPSG:32610"


def roads(lines, oneway=None, crs=UTM) -> gpd.GeoDataFrame:
    data = {} if oneway is None else {"oneway": oneway}
    return gpd.GeoDataFrame(data, geometry=lines, crs=crs)


def dist(net, sensors, **kw) -> np.ndarray:
    return road_distances(net, np.asarray(sensors, float), crs=UTM, **kw)[1]


def test_one_way_roads_keep_upstream_and_downstream_distinct():
    net = roads([LineString([(0, 0), (1000, 0), (2000, 0)])], oneway=[True])
    d = dist(net, [[100, 5], [700, -5], [1500, 2]], oneway="oneway")
    np.testing.assert_allclose(d[0], [0, 600, 1400])
    np.testing.assert_allclose(d[2, :2], [np.inf, np.inf])  # nothing flows west
    two_way = dist(net, [[100, 5], [700, -5], [1500, 2]])
    np.testing.assert_allclose(two_way, two_way.T)
    np.testing.assert_allclose(two_way[2, 0], 1400)


def test_road_distance_follows_the_road_not_the_crow():
    u_turn = roads([LineString([(0, 0), (0, 1000), (20, 1000), (20, 0)])])
    d = dist(u_turn, [[-1, 10], [21, 10]])
    np.testing.assert_allclose(d[0, 1], 990 + 20 + 990)  # 22 m apart as the crow flies


def test_shortest_of_parallel_routes_and_multilinestrings():
    net = roads(
        [
            LineString([(0, 0), (1000, 0)]),
            MultiLineString([[(0, 0), (0, 200), (1000, 200)], [(1000, 200), (1000, 0)]]),
            LineString([(1000, 0), (2000, 0)]),
        ]
    )
    d = dist(net, [[10, -3], [1990, 3], [500, 201]])
    np.testing.assert_allclose(d[0, 1], 1980)
    np.testing.assert_allclose(d[2, 1], 500 + 200 + 990)


def test_graph_is_the_dcrnn_kernel_of_road_distances_and_warns_for_unreachable_sensors():
    net = roads(
        [LineString([(0, 0), (1000, 0)]), LineString([(1000, 0), (1000, 800)]),
         LineString([(5000, 0), (6000, 0)])],  # a separate road
        oneway=[True, False, False],
    )  # fmt: skip
    sensors = np.array([[100.0, 1], [900, -1], [1001, 400], [5500, 0]])
    d = dist(net, sensors, oneway="oneway")
    with pytest.warns(IsolatedNodesWarning, match="'3'"):
        g = build("road-network", net, sensors, crs=UTM, oneway="oneway", kappa=0.05)
    expected = gaussian_kernel(d, kappa=0.05)
    np.fill_diagonal(expected, 0)
    np.testing.assert_allclose(g.to_dense(), expected, atol=1e-6)
    assert g.directed and g.to_dense()[0, 1] > 0 and g.to_dense()[1, 0] == 0
    np.testing.assert_array_equal(g.coords, sensors)


def test_lonlat_roads_are_measured_in_metres_through_utm():
    lon = -122.3
    net = roads([LineString([(lon, 37.70), (lon, 37.80)])], crs="EPSG:4326")
    sensors = np.array([[lon + 1e-5, 37.72], [lon - 1e-5, 37.73]])
    _, d = road_distances(net, sensors)
    expected = haversine(sensors[0], sensors[1])  # sphere vs ellipsoid: < 0.5 %
    assert d[0, 1] == pytest.approx(expected, rel=5e-3) and d[1, 0] == pytest.approx(d[0, 1])


def test_max_distance_cuts_long_pairs():
    net = roads([LineString([(0, 0), (3000, 0)])])
    d = dist(net, [[0, 0], [1000, 0], [3000, 0]], max_distance=1500)
    assert np.isinf(d[0, 2]) and d[0, 1] == pytest.approx(1000)


def test_road_digraph_has_both_directions_only_for_two_way_roads():
    net = roads(
        [LineString([(0, 0), (10, 0)]), LineString([(10, 0), (10, 10)])], oneway=[True, False]
    )
    g = road_digraph(net, oneway="oneway")
    pos = {v: p for v, p in g.nodes(data="pos")}
    arcs = {(pos[u], pos[v]) for u, v in g.edges}
    assert ((0, 0), (10, 0)) in arcs and ((10, 0), (0, 0)) not in arcs
    assert {((10, 0), (10, 10)), ((10, 10), (10, 0))} <= arcs
    assert g.graph["crs"] == UTM and g.edges[0, 1]["length"] == pytest.approx(10)


@pytest.mark.parametrize(
    ("net", "kwargs", "message"),
    [
        (gpd.GeoDataFrame(geometry=[LineString([(0, 0), (1, 0)])]), {}, "roads have no CRS"),
        (roads([LineString([(0, 0), (1, 0)]), LineString()]), {}, "row 1 has an empty geometry"),
        (roads([LineString([(0, 0), (1, 0)]), Point(0, 0)]), {}, "row 1 is a Point"),
        (roads([LineString([(0, 0), (1, 0)])]), {"oneway": "oneway"}, "oneway column 'oneway'"),
        (
            roads([LineString([(0, 0), (1, 0)])], oneway=[None]),
            {"oneway": "oneway"},
            "row 0 has oneway=None",
        ),
        (roads([LineString([(0, 0), (1, 0)])]), {"max_snap": 50.0}, "sensor '1' is 100.0 from"),
        (roads([LineString([(0, 0), (1, 0)])]), {"kappa": 0.0}, "kappa must be in"),
    ],
)
def test_bad_road_input_is_named(net, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build("road-network", net, np.array([[0.0, 1.0], [0.0, 100.0]]), crs=UTM, **kwargs)
