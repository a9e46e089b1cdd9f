r"""Graphs from point sets: Gaussian kernel, k-nearest neighbours, radius, Delaunay.

Points are a NumPy ``[N, 2]`` array of ``(lon, lat)`` (or ``(x, y)`` with ``crs=``) or a
GeoDataFrame of points in any CRS. Distances follow ``metric``: great circle (haversine) for
lon/lat by default, metres in the auto-selected UTM zone with ``metric="utm"``, or the CRS's
own units for projected input. Neighbour searches use a ``scipy.spatial.cKDTree`` (on 3-D unit
vectors for great-circle distances), never an :math:`O(N^2)` loop; only the DCRNN
:math:`\sigma` (std of *all* pairwise distances) is quadratic, and it streams in row blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from scipy.spatial import cKDTree

from stgraph.graph import geo
from stgraph.graph.builders._common import both_ways, edges_to_graph
from stgraph.graph.builders._inputs import Metric, as_points
from stgraph.graph.builders.registry import register_builder
from stgraph.graph.kernels import Weighting, gaussian_weights
from stgraph.graph.sensor_graph import SensorGraph

Ids = str | Sequence[Any] | None
KnnMode = Literal["symmetric", "mutual", "directed"]
_BLOCK = 1024


def pairs_within(
    space: np.ndarray, sphere: bool, reach: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair ``i < j`` with distance ``<= reach`` (metres / CRS units) and its distance,
    from one k-d tree query (padded by a relative 1e-9 against chord round-off, then filtered
    on the exact distance).

    Shapes:
        space: [N, D] -> i [P], j [P], dist [P]
    """
    query = geo.distance_to_space(reach, sphere) * (1 + 1e-9)
    pairs = cKDTree(space).query_pairs(query, output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    d = geo.space_to_distance(np.linalg.norm(space[i] - space[j], axis=1), sphere)
    ok = d <= reach
    return i[ok], j[ok], d[ok]


def pairwise_distance_std(space: np.ndarray, sphere: bool) -> float:
    r"""Standard deviation of all :math:`N^2` pairwise distances (self-pairs included, as in
    DCRNN's :math:`\sigma`), streamed in row blocks (two passes, :math:`O(N \cdot 1024)`
    memory).

    Shapes:
        space: [N, D] (unit vectors when ``sphere``)
    """
    n = len(space)

    def blocks():
        for s in range(0, n, _BLOCK):
            diff = space[s : s + _BLOCK, None, :] - space[None, :, :]
            yield geo.space_to_distance(np.sqrt(np.einsum("ijk,ijk->ij", diff, diff)), sphere)

    mean = sum(float(b.sum()) for b in blocks()) / n**2
    var = sum(float(np.square(b - mean).sum()) for b in blocks()) / n**2
    return float(np.sqrt(var))


@register_builder("gaussian", "points: thresholded Gaussian kernel of distances (DCRNN recipe)")
def gaussian_graph(
    points: Any,
    *,
    sigma: float | None = None,
    kappa: float = 0.1,
    ids: Ids = None,
    crs: str | None = None,
    metric: Metric = "auto",
    self_loops: bool = False,
    name: str = "gaussian",
) -> SensorGraph:
    r"""Thresholded Gaussian-kernel graph (DCRNN, Li et al., ICLR 2018, sec. 4.1).

    .. math::
        W_{ij} = \exp(-d_{ij}^2 / \sigma^2) \text{ if } W_{ij} \ge \kappa \text{ else } 0

    With ``sigma=None``, :math:`\sigma` is the std of all pairwise distances (self-pairs
    included), as DCRNN does. Since :math:`W_{ij} \ge \kappa \iff d_{ij} \le \sigma
    \sqrt{\ln(1/\kappa)}`, edges come from one k-d tree radius query. DCRNN's published
    matrices keep the unit diagonal; pass ``self_loops=True`` for it.

    Args:
        points: ``[N, 2]`` ``(lon, lat)`` array or a GeoDataFrame of points.
        sigma: kernel width in metres (CRS units for projected input); ``None`` = DCRNN's std.
        kappa: threshold in ``(0, 1)``; smaller weights are dropped.
        ids: node ids (see :func:`~stgraph.graph.builders._inputs.as_points`).
        crs: CRS of an array input (default ``"EPSG:4326"``).
        metric: ``"auto"``, ``"haversine"``, ``"utm"`` or ``"euclidean"``.
        self_loops: keep the ``i -> i`` entries (weight 1).
        name: graph name.

    Shapes:
        points: [N, 2] -> graph with N nodes, undirected
    """
    if not 0 < kappa < 1:
        raise ValueError(f"kappa must be in (0, 1), got {kappa}")
    pts = as_points(points, ids, crs)
    space, sphere = pts.metric_space(metric)
    if sigma is None:
        sigma = pairwise_distance_std(space, sphere)
    i, j, d = pairs_within(space, sphere, sigma * np.sqrt(np.log(1.0 / kappa)))
    keep = gaussian_weights(d, sigma) >= kappa
    src, dst, dist = both_ways(i[keep], j[keep], d[keep], len(pts))
    if self_loops:
        loop = np.arange(len(pts))
        src, dst = np.concatenate([src, loop]), np.concatenate([dst, loop])
        dist = np.concatenate([dist, np.zeros(len(pts))])
    return edges_to_graph(
        pts, src, dst, dist, weight="gaussian", sigma=sigma, directed=False, name=name
    )


def _knn_indices(tree: cKDTree, space: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest *other* points of every point (a point's own index is removed even
    when coincident points tie with it).

    Shapes:
        output: idx [N, k], dist [N, k] (tree units)
    """
    d, idx = tree.query(space, k=k + 1)
    not_self = idx != np.arange(len(space))[:, None]
    not_self[not_self.all(1), -1] = False  # self fell outside k+1 ties: drop the farthest
    return idx[not_self].reshape(-1, k), d[not_self].reshape(-1, k)


@register_builder("knn", "points: k nearest neighbours (symmetric, mutual or directed)")
def knn_graph(
    points: Any,
    k: int = 8,
    *,
    mode: KnnMode = "symmetric",
    weight: Weighting = "ones",
    sigma: float | None = None,
    ids: Ids = None,
    crs: str | None = None,
    metric: Metric = "auto",
    name: str = "knn",
) -> SensorGraph:
    r"""k-nearest-neighbour graph.

    ``j -> i`` when ``j`` is among the ``k`` nearest points of ``i`` (``mode="directed"``:
    every node hears exactly ``k`` neighbours); ``"symmetric"`` keeps a pair when either point
    chose the other, ``"mutual"`` when both did (mutual graphs can leave nodes isolated, which
    warns).

    Args:
        points: ``[N, 2]`` ``(lon, lat)`` array or a GeoDataFrame of points.
        k: neighbours per node, ``1 <= k < N``.
        mode: ``"symmetric"``, ``"mutual"`` or ``"directed"``.
        weight: ``"ones"``, ``"gaussian"`` (``sigma`` default: mean edge length), ``"distance"``
            or ``"inverse"`` (see :func:`stgraph.graph.kernels.edge_weights`).
        sigma: Gaussian width (metres / CRS units).
        ids, crs, metric, name: as in :func:`gaussian_graph`.

    Shapes:
        points: [N, 2] -> graph with N nodes
    """
    pts = as_points(points, ids, crs)
    n = len(pts)
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, N-1] = [1, {n - 1}], got {k}")
    space, sphere = pts.metric_space(metric)
    idx, d = _knn_indices(cKDTree(space), space, k)
    src, dst = idx.reshape(-1), np.repeat(np.arange(n), k)
    dist = geo.space_to_distance(d.reshape(-1), sphere)
    if mode == "symmetric":
        src, dst, dist = both_ways(src, dst, dist, n)
    elif mode == "mutual":
        both = np.isin(dst * n + src, src * n + dst)
        src, dst, dist = src[both], dst[both], dist[both]
    elif mode != "directed":
        raise ValueError(f"mode must be 'symmetric', 'mutual' or 'directed', got {mode!r}")
    directed = mode == "directed"
    return edges_to_graph(
        pts, src, dst, dist, weight=weight, sigma=sigma, directed=directed, name=name
    )


@register_builder("radius", "points: every pair closer than a radius")
def radius_graph(
    points: Any,
    radius: float,
    *,
    weight: Weighting = "ones",
    sigma: float | None = None,
    ids: Ids = None,
    crs: str | None = None,
    metric: Metric = "auto",
    name: str = "radius",
) -> SensorGraph:
    """Radius (epsilon-ball) graph: ``i <-> j`` when ``d(i, j) <= radius``.

    Args:
        points: ``[N, 2]`` ``(lon, lat)`` array or a GeoDataFrame of points.
        radius: in metres for great-circle/UTM distances, else CRS units.
        weight, sigma: as in :func:`knn_graph`.
        ids, crs, metric, name: as in :func:`gaussian_graph`.

    Shapes:
        points: [N, 2] -> graph with N nodes, undirected
    """
    if not radius > 0:
        raise ValueError(f"radius must be > 0, got {radius}")
    pts = as_points(points, ids, crs)
    space, sphere = pts.metric_space(metric)
    src, dst, dist = both_ways(*pairs_within(space, sphere, radius), len(pts))
    return edges_to_graph(
        pts, src, dst, dist, weight=weight, sigma=sigma, directed=False, name=name
    )
