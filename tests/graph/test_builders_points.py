"""Point builders: Gaussian, kNN, radius and Delaunay graphs against brute-force references."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from scipy.spatial import Delaunay

from stgraph.graph import IsolatedNodesWarning, build
from stgraph.graph.builders.delaunay import delaunay_graph, triangles
from stgraph.graph.builders.points import (
    gaussian_graph,
    knn_graph,
    pairwise_distance_std,
    radius_graph,
)
from stgraph.graph.geo import EARTH_RADIUS_M, haversine, unit_vectors
from stgraph.graph.kernels import gaussian_kernel


def bay_points(n: int, seed: int = 0) -> np.ndarray:
    """Random (lon, lat) points around the San Francisco Bay."""
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(-122.6, -121.8, n), rng.uniform(37.2, 37.9, n)])


def dense_haversine(lonlat: np.ndarray) -> np.ndarray:
    return haversine(lonlat[:, None, :], lonlat[None, :, :])


def edges(graph) -> set[tuple[int, int]]:
    return set(map(tuple, graph.edge_index.T.tolist()))


def test_haversine_matches_the_arc_length_of_one_degree_and_is_symmetric():
    one_degree = EARTH_RADIUS_M * np.pi / 180
    assert haversine(np.array([10.0, 0.0]), np.array([10.0, 1.0])) == pytest.approx(one_degree)
    assert haversine(np.array([0.0, 0.0]), np.array([1.0, 0.0])) == pytest.approx(one_degree)
    p = bay_points(20)
    d = dense_haversine(p)
    np.testing.assert_allclose(d, d.T)
    chord = np.linalg.norm(unit_vectors(p)[:, None] - unit_vectors(p)[None], axis=-1)
    np.testing.assert_allclose(2 * EARTH_RADIUS_M * np.arcsin(chord / 2), d, atol=1e-6)


def test_streamed_sigma_equals_the_std_of_the_full_distance_matrix():
    p = bay_points(1300)  # more rows than one block
    space = unit_vectors(p)
    assert pairwise_distance_std(space, True) == pytest.approx(dense_haversine(p).std(), rel=1e-9)


@pytest.mark.parametrize("sigma", [None, 9000.0])
def test_gaussian_graph_equals_the_dense_dcrnn_kernel(sigma):
    p = bay_points(250, seed=1)
    g = gaussian_graph(p, sigma=sigma, kappa=0.1, self_loops=True)
    expected = gaussian_kernel(dense_haversine(p), sigma=sigma, kappa=0.1)
    assert g.num_edges == int((expected > 0).sum())
    np.testing.assert_allclose(g.to_dense(), expected, atol=1e-6)
    assert not g.directed and g.crs == "EPSG:4326"
    np.testing.assert_array_equal(g.coords, p)
    no_loops = build("gaussian", p, sigma=sigma)
    assert no_loops.num_edges == g.num_edges - 250


@pytest.mark.filterwarnings("ignore::stgraph.graph.IsolatedNodesWarning")  # mutual kNN
@pytest.mark.parametrize("mode", ["directed", "symmetric", "mutual"])
def test_knn_graph_equals_a_brute_force_haversine_knn(mode):
    p, k = bay_points(300, seed=2), 5
    d = dense_haversine(p)
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1)[:, :k]
    chosen = {(int(j), i) for i in range(len(p)) for j in nearest[i]}  # j -> i
    reverse = {(b, a) for a, b in chosen}
    expected = {
        "directed": chosen,
        "symmetric": chosen | reverse,
        "mutual": chosen & reverse,
    }[mode]
    g = knn_graph(p, k, mode=mode, weight="distance")
    assert edges(g) == expected
    ei, w = g.edge_index.numpy(), g.edge_weight.numpy()
    np.testing.assert_allclose(w, d[ei[0], ei[1]], rtol=1e-6)
    if mode == "directed":
        assert (np.bincount(ei[1], minlength=len(p)) == k).all()


def test_radius_graph_equals_brute_force_and_warns_about_lonely_points():
    p = np.vstack([bay_points(200, seed=3), [[-120.0, 36.0]]])  # one far-away point
    d = dense_haversine(p)
    expected = {(i, j) for i, j in zip(*np.nonzero(d <= 12000.0), strict=True) if i != j}
    with pytest.warns(IsolatedNodesWarning, match="1 of 201 nodes have no edge: '200'"):
        g = radius_graph(p, 12000.0)
    assert edges(g) == expected and set(g.edge_weight.tolist()) == {1.0}


def test_great_circle_neighbours_cross_the_dateline():
    p = np.array([[179.95, 0.0], [-179.95, 0.0], [179.0, 0.0]])
    g = knn_graph(p, 1, mode="directed", weight="distance")
    assert (1, 0) in edges(g)  # 11 km apart across the antimeridian, not 359.9 degrees
    assert float(g.edge_weight[0]) == pytest.approx(0.1 * EARTH_RADIUS_M * np.pi / 180)


def test_gaussian_weights_and_utm_metric():
    p = bay_points(150, seed=4)
    g = knn_graph(p, 4, weight="gaussian", sigma=3000.0)
    ei = g.edge_index.numpy()
    d = dense_haversine(p)[ei[0], ei[1]]
    np.testing.assert_allclose(g.edge_weight.numpy(), np.exp(-((d / 3000.0) ** 2)), rtol=1e-5)
    utm = knn_graph(p, 4, weight="distance", metric="utm")
    ei = utm.edge_index.numpy()  # ellipsoidal UTM 10N vs spherical great circles: < 0.5 %
    d = dense_haversine(p)[ei[0], ei[1]]
    np.testing.assert_allclose(utm.edge_weight.numpy(), d, rtol=5e-3)


def test_geodataframes_in_any_crs_give_the_same_graph():
    p = bay_points(120, seed=5)
    frame = gpd.GeoDataFrame(
        {"station": [f"s{i}" for i in range(120)]}, geometry=shapely.points(p), crs="EPSG:4326"
    )
    from_array = knn_graph(p, 3, ids=[f"s{i}" for i in range(120)])
    assert knn_graph(frame, 3, ids="station") == from_array
    projected = frame.to_crs("EPSG:3310")  # California Albers, metres
    g = knn_graph(projected, 3, ids="station", metric="haversine")
    assert edges(g) == edges(from_array) and g.crs == "EPSG:3310"
    planar = knn_graph(projected, 3, ids="station")  # metres in the frame's own CRS
    assert len(edges(planar) ^ edges(from_array)) <= 4  # Albers is near-conformal here


def triangulation_edges(simplices: np.ndarray) -> set[tuple[int, int]]:
    out = set()
    for a, b, c in simplices.tolist():
        for s, t in ((a, b), (b, c), (c, a)):
            out |= {(s, t), (t, s)}
    return out


def test_spherical_delaunay_triangles_have_empty_circumcaps_and_tile_the_hull():
    p = np.random.default_rng(6).uniform(-30, 30, (200, 2))  # a wide area: curvature matters
    g = delaunay_graph(p)
    u = unit_vectors(p)
    tri = triangles(u, sphere=True)
    assert edges(g) == triangulation_edges(tri)
    for a, b, c in tri:  # the Delaunay property on the sphere: no point inside a circumcircle
        n = np.cross(u[b] - u[a], u[c] - u[a])
        n *= np.sign(n @ u[a])
        assert not (u @ n > n @ u[a] + 1e-12).any()
    uses = {}
    for t in tri.tolist():  # a triangulated disc: boundary edges once, inner edges twice
        for e in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
            key = tuple(sorted(e))
            uses[key] = uses.get(key, 0) + 1
    boundary = {v for e, k in uses.items() if k == 1 for v in e}
    assert set(uses.values()) == {1, 2}
    assert len(tri) == 2 * len(p) - 2 - len(boundary)


def test_projected_points_are_triangulated_in_their_plane():
    lonlat = bay_points(100, seed=7)
    xy = gpd.GeoSeries(shapely.points(lonlat), crs="EPSG:4326").to_crs("EPSG:3310")
    planar = build("delaunay", gpd.GeoDataFrame(geometry=xy))
    expected = triangulation_edges(Delaunay(shapely.get_coordinates(xy)).simplices)
    assert edges(planar) == expected and planar.crs == "EPSG:3310"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: knn_graph(np.array([[0.0, 0.0], [np.nan, 1.0]]), 1), "'1' .* non-finite"),
        (lambda: knn_graph(np.array([[0.0, 0.0], [37.5, -122.3]]), 1), r"'1' .* swapped"),
        (lambda: knn_graph(np.zeros((3, 2)), 1, ids=["a", "b", "a"]), "duplicate node id 'a'"),
        (lambda: knn_graph(np.zeros((3, 2)), 3), r"k must be in \[1, N-1\]"),
        (lambda: knn_graph(np.zeros((3, 2)), 1, mode="both"), "mode must be"),
        (lambda: knn_graph(np.zeros((3, 2)), 1, metric="euclidean"), "not a distance"),
        (lambda: knn_graph(np.zeros((3, 2)), 1, metric="manhattan"), "unknown metric"),
        (lambda: knn_graph(np.zeros((3, 2)), 1, weight="cosine"), "unknown weight"),
        (lambda: knn_graph(np.zeros((3, 3)), 1), r"shape \[N, 2\]"),
        (lambda: radius_graph(np.zeros((3, 2)), 0.0), "radius must be > 0"),
        (lambda: gaussian_graph(np.zeros((3, 2)), kappa=1.5), "kappa must be in"),
        (lambda: delaunay_graph(np.zeros((2, 2))), "at least 3 points"),
        (
            lambda: delaunay_graph(np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1, 0]])),
            "'0' and '2' have the same coordinates",
        ),
        (
            lambda: delaunay_graph(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]), crs="EPSG:3310"),
            "cannot triangulate",
        ),
    ],
)
def test_bad_points_raise_errors_naming_the_row(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_bad_geodataframes_raise_errors_naming_the_row():
    pts = shapely.points([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5]])
    with pytest.raises(ValueError, match="no CRS"):
        knn_graph(gpd.GeoDataFrame(geometry=pts), 1)
    frame = gpd.GeoDataFrame(geometry=pts, crs="EPSG:4326", index=["a", "b", "c"])
    empty = frame.copy()
    empty.loc["b", "geometry"] = shapely.Point()
    with pytest.raises(ValueError, match="row 'b' has an empty geometry"):
        knn_graph(empty, 1)
    mixed = frame.copy()
    mixed.loc["c", "geometry"] = shapely.box(0, 0, 1, 1)
    with pytest.raises(ValueError, match="row 'c' is a Polygon; expected Point"):
        knn_graph(mixed, 1)
    with pytest.raises(ValueError, match="crs= is for arrays"):
        knn_graph(frame, 1, crs="EPSG:4326")
    with pytest.raises(ValueError, match="id column 'name' not found"):
        knn_graph(frame, 1, ids="name")
