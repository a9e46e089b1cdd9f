r"""Delaunay-triangulation graphs (planar, or spherical for lon/lat points).

Spherical Delaunay triangles of points on the unit sphere are the faces of their convex hull
that do not face the origin. Adding the origin to the hull makes this robust for points on a
small cap (a tetrahedron exists from three points): faces touching the origin are dropped, the
rest are the spherical Delaunay triangles.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial import ConvexHull, Delaunay, QhullError

from stgraph.graph import geo
from stgraph.graph.builders._common import both_ways, edges_to_graph
from stgraph.graph.builders._inputs import Metric, Points, as_points
from stgraph.graph.builders.points import Ids
from stgraph.graph.builders.registry import register_builder
from stgraph.graph.kernels import Weighting
from stgraph.graph.sensor_graph import SensorGraph


def _check_distinct(pts: Points, space: np.ndarray) -> None:
    """Coincident points have no place in a triangulation: name the first pair."""
    _, first, inverse = np.unique(
        np.round(space, 12), axis=0, return_index=True, return_inverse=True
    )
    clash = np.flatnonzero(first[inverse.reshape(-1)] != np.arange(len(space)))
    if clash.size:
        b = int(clash[0])
        a = int(first[inverse.reshape(-1)[b]])
        raise ValueError(
            f"points {pts.ids[a]!r} and {pts.ids[b]!r} have the same coordinates; "
            "a triangulation needs distinct points (merge or jitter them)"
        )


def triangles(space: np.ndarray, sphere: bool) -> np.ndarray:
    """Delaunay triangles as vertex triples.

    Shapes:
        space: [N, 3] unit vectors (sphere) or [N, 2] (plane) -> [T, 3] int
    """
    try:
        if not sphere:
            return np.asarray(Delaunay(space).simplices)
        hull = ConvexHull(np.vstack([space, np.zeros((1, 3))]))
    except QhullError as e:
        raise ValueError(
            f"cannot triangulate these {len(space)} points (all collinear, or fewer than 3?): "
            f"{str(e).splitlines()[0]}"
        ) from None
    faces = np.asarray(hull.simplices)
    return faces[(faces < len(space)).all(1)]


@register_builder("delaunay", "points: Delaunay triangulation (spherical for lon/lat)")
def delaunay_graph(
    points: Any,
    *,
    weight: Weighting = "ones",
    sigma: float | None = None,
    ids: Ids = None,
    crs: str | None = None,
    metric: Metric = "auto",
    name: str = "delaunay",
) -> SensorGraph:
    """Delaunay graph: ``i <-> j`` when they share a triangle edge. Lon/lat points are
    triangulated on the sphere (``metric="auto"``/``"haversine"``), projected ones in the
    plane; ``metric="utm"`` triangulates in the UTM plane.

    Args:
        points: ``[N, 2]`` ``(lon, lat)`` array or a GeoDataFrame of points (distinct, N >= 3).
        weight, sigma: as in :func:`stgraph.graph.builders.points.knn_graph`.
        ids, crs, metric, name: as in :func:`stgraph.graph.builders.points.gaussian_graph`.

    Shapes:
        points: [N, 2] -> graph with N nodes, undirected
    """
    pts = as_points(points, ids, crs)
    if len(pts) < 3:
        raise ValueError(f"a triangulation needs at least 3 points, got {len(pts)}")
    space, sphere = pts.metric_space(metric)
    _check_distinct(pts, space)
    tri = triangles(space, sphere)
    e = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]])
    e = np.unique(np.sort(e, axis=1), axis=0)
    d = geo.space_to_distance(np.linalg.norm(space[e[:, 0]] - space[e[:, 1]], axis=1), sphere)
    src, dst, dist = both_ways(e[:, 0], e[:, 1], d, len(pts))
    return edges_to_graph(
        pts, src, dst, dist, weight=weight, sigma=sigma, directed=False, name=name
    )
