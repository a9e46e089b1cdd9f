r"""Graphs from road networks: directed road distances between sensors, then a Gaussian kernel.

Pipeline: a GeoDataFrame of LineStrings (optional one-way flag) is cut into straight segments
in a metric CRS (the auto-selected UTM zone for lon/lat input); every sensor is snapped to its
nearest segment and inserted into it; the segments become a ``networkx.DiGraph`` (a two-way
road gives both directions, a one-way road only the drawn one); Dijkstra from each sensor
gives directed road distances :math:`d_{ij}` (``inf`` when ``j`` is unreachable from ``i``);
the DCRNN kernel turns them into weights. Upstream and downstream stay distinct: on a one-way
road only the downstream sensor is reachable.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
import shapely
from scipy.sparse.csgraph import dijkstra

from stgraph.graph import geo
from stgraph.graph.builders._inputs import Points, as_points, check_geometries, geo_frame_crs
from stgraph.graph.builders.points import Ids
from stgraph.graph.builders.registry import register_builder
from stgraph.graph.builders.table import distance_matrix_graph
from stgraph.graph.sensor_graph import SensorGraph

_MIN_LENGTH = 1e-9  # zero-length pieces (a sensor on a vertex) still count as edges
_SOURCES_PER_BLOCK = 64


class _Segments:
    """Straight road pieces in a metric CRS: vertex coordinates, endpoints ``a -> b`` (the
    drawing direction) and one-way flags.

    Shapes:
        xy: [V, 2], a: [M], b: [M], oneway: [M]
    """

    def __init__(self, roads: Any, oneway: str | None, tolerance: float) -> None:
        check_geometries(roads, ("LineString", "MultiLineString"), "roads")
        flags = np.zeros(len(roads), dtype=bool)
        if oneway is not None:
            if oneway not in roads.columns:
                raise ValueError(f"oneway column {oneway!r} not in roads {list(roads.columns)}")
            col = roads[oneway]
            bad = col.isna() | ~col.isin([True, False, 0, 1])
            if bad.any():
                label = roads.index[bad.to_numpy()][0]
                raise ValueError(
                    f"roads: row {label!r} has {oneway}={col[label]!r}; expected True/False"
                )
            flags = col.to_numpy(dtype=bool)
        parts = shapely.get_parts(roads.geometry.to_numpy())
        part_row = np.repeat(np.arange(len(roads)), shapely.get_num_geometries(roads.geometry))
        coords, owner = shapely.get_coordinates(parts, return_index=True)
        same = owner[1:] == owner[:-1]
        start, end = coords[:-1][same], coords[1:][same]
        keys = np.round(np.vstack([start, end]) / tolerance).astype(np.int64)
        uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        self.xy = uniq * tolerance
        m = len(start)
        a, b = inverse[:m], inverse[m:]
        real = a != b
        self.a, self.b = a[real], b[real]
        self.oneway = flags[part_row[owner[:-1][same]]][real]
        self.lines = shapely.linestrings(np.stack([self.xy[self.a], self.xy[self.b]], axis=1))

    def directed_pieces(
        self, snapped: np.ndarray | None = None, t: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Directed edges ``(u, v, length)``; sensor ``k`` (node ``V + k``) cuts segment
        ``snapped[k]`` at fraction ``t[k]``. Two-way segments appear in both directions."""
        n_v = len(self.xy)
        length = shapely.length(self.lines)
        cut = np.zeros(len(self.a), dtype=bool)
        us, vs, ls = [], [], []
        if snapped is not None and t is not None:
            cut[snapped] = True
            for seg in np.unique(snapped):
                on = np.flatnonzero(snapped == seg)
                on = on[np.argsort(t[on], kind="stable")]
                stops = np.concatenate([[self.a[seg]], n_v + on, [self.b[seg]]])
                frac = np.concatenate([[0.0], t[on], [1.0]])
                us.append(stops[:-1])
                vs.append(stops[1:])
                ls.append(np.diff(frac) * length[seg])
                if not self.oneway[seg]:
                    us.append(stops[1:])
                    vs.append(stops[:-1])
                    ls.append(np.diff(frac) * length[seg])
        whole = ~cut
        two = whole & ~self.oneway
        us += [self.a[whole], self.b[two]]
        vs += [self.b[whole], self.a[two]]
        ls += [length[whole], length[two]]
        return np.concatenate(us), np.concatenate(vs), np.maximum(np.concatenate(ls), _MIN_LENGTH)


def _digraph(u: np.ndarray, v: np.ndarray, length: np.ndarray, n: int) -> nx.DiGraph:
    """DiGraph on nodes ``0..n-1`` with edge attribute ``length`` (the shortest of parallels)."""
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    order = np.argsort(-length, kind="stable")  # longest first: the shortest parallel wins
    g.add_weighted_edges_from(
        zip(u[order].tolist(), v[order].tolist(), length[order].tolist(), strict=True),
        weight="length",
    )
    return g


def _metric_crs(roads: Any) -> str:
    crs = geo_frame_crs(roads, "roads")
    if not geo.is_geographic(crs):
        return crs
    return geo.utm_crs(shapely.get_coordinates(roads.geometry.to_numpy()))


def road_digraph(roads: Any, *, oneway: str | None = None, tolerance: float = 1e-3) -> nx.DiGraph:
    """The road network as a ``networkx.DiGraph`` in a metric CRS.

    Nodes are line vertices (vertices closer than ``tolerance`` merge; lines only connect
    where they share a vertex) with attribute ``pos`` ``(x, y)``; edges carry ``length``
    (metres in the auto UTM zone for lon/lat roads). ``graph["crs"]`` holds the metric CRS.

    Args:
        roads: GeoDataFrame of LineString / MultiLineString rows with a CRS.
        oneway: optional bool column; ``True`` = traffic only in the drawing direction.
        tolerance: vertex-merge grid in metric CRS units.
    """
    crs = _metric_crs(roads)
    seg = _Segments(roads.to_crs(crs), oneway, tolerance)
    g = _digraph(*seg.directed_pieces(), len(seg.xy))
    nx.set_node_attributes(g, {i: tuple(p) for i, p in enumerate(seg.xy.tolist())}, "pos")
    g.graph["crs"] = crs
    return g


@register_builder("road-network", "directed road (shortest-path) distances + Gaussian kernel")
def road_network_graph(
    roads: Any,
    sensors: Any,
    *,
    oneway: str | None = None,
    ids: Ids = None,
    crs: str | None = None,
    sigma: float | None = None,
    kappa: float = 0.1,
    max_snap: float | None = None,
    max_distance: float | None = None,
    self_loops: bool = False,
    tolerance: float = 1e-3,
    name: str = "road-network",
) -> SensorGraph:
    r"""Sensor graph from directed road distances (the DCRNN recipe on a road network).

    .. math::
        W_{ij} = \exp(-d_{ij}^2/\sigma^2) \text{ if } \ge \kappa \text{ else } 0, \quad
        d_{ij} = \text{shortest road path from sensor } i \text{ to sensor } j

    :math:`\sigma` defaults to the std of all finite :math:`d_{ij}` (self-pairs included).

    Args:
        roads: GeoDataFrame of LineStrings (any CRS, must be set).
        sensors: ``[N, 2]`` ``(lon, lat)`` array or GeoDataFrame of points.
        oneway: bool column of ``roads``; ``True`` = one-way in the drawing direction.
        ids, crs: sensor ids and the CRS of an array of sensors (default ``"EPSG:4326"``).
        sigma: kernel width in metres (metric CRS units); ``None`` = std of the distances.
        kappa: threshold in ``(0, 1)``.
        max_snap: a sensor farther than this from every road is an error (``None``: no limit).
        max_distance: stop Dijkstra at this road distance (faster on big networks; longer
            pairs count as unreachable and also leave :math:`\sigma`).
        self_loops: keep the unit diagonal of DCRNN's matrices.
        tolerance: vertex-merge grid (see :func:`road_digraph`).
        name: graph name.

    Shapes:
        sensors: [N, 2] -> graph with N nodes (sensor coordinates as given)
    """
    if not 0 < kappa < 1:
        raise ValueError(f"kappa must be in (0, 1), got {kappa}")
    pts = as_points(sensors, ids, crs)
    dist = _road_distances(roads, pts, oneway, max_snap, max_distance, tolerance)
    return distance_matrix_graph(
        dist,
        pts.ids,
        sigma=sigma,
        kappa=kappa,
        self_loops=self_loops,
        coords=pts.xy,
        crs=pts.crs,
        name=name,
    )


def road_distances(
    roads: Any,
    sensors: Any,
    *,
    oneway: str | None = None,
    ids: Ids = None,
    crs: str | None = None,
    max_snap: float | None = None,
    max_distance: float | None = None,
    tolerance: float = 1e-3,
) -> tuple[tuple[str, ...], np.ndarray]:
    """Directed shortest road distances between sensors (the matrix behind
    :func:`road_network_graph`; arguments as there).

    Returns:
        ``(ids, dist)`` with ``dist[i, j]`` the road distance from sensor ``i`` to sensor
        ``j`` in metres (metric CRS units), ``inf`` when unreachable.

    Shapes:
        dist: [N, N]
    """
    pts = as_points(sensors, ids, crs)
    return pts.ids, _road_distances(roads, pts, oneway, max_snap, max_distance, tolerance)


def _road_distances(
    roads: Any,
    pts: Points,
    oneway: str | None,
    max_snap: float | None,
    max_distance: float | None,
    tolerance: float,
) -> np.ndarray:
    work = _metric_crs(roads)
    seg = _Segments(roads.to_crs(work), oneway, tolerance)
    at = shapely.points(geo.transform(pts.xy, pts.crs, work))
    which, gap = _nearest_segment(seg.lines, at)
    if max_snap is not None and (gap > max_snap).any():
        k = int(np.argmax(gap > max_snap))
        raise ValueError(
            f"sensor {pts.ids[k]!r} is {gap[k]:.1f} from the nearest road; max_snap={max_snap}"
        )
    t = shapely.line_locate_point(seg.lines[which], at, normalized=True)
    g = _digraph(*seg.directed_pieces(which, t), len(seg.xy) + len(pts))
    csr = nx.to_scipy_sparse_array(g, nodelist=range(g.number_of_nodes()), weight="length")
    sources = len(seg.xy) + np.arange(len(pts))
    limit = np.inf if max_distance is None else max_distance
    blocks = np.array_split(sources, max(1, len(sources) // _SOURCES_PER_BLOCK))
    return np.vstack([dijkstra(csr, indices=b, limit=limit)[:, sources] for b in blocks])


def _nearest_segment(lines: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest segment of every point (lowest index on ties) and its distance."""
    tree = shapely.STRtree(lines)
    (pt, seg), gap = tree.query_nearest(at, return_distance=True, all_matches=True)
    order = np.lexsort((seg, pt))
    first = order[np.unique(pt[order], return_index=True)[1]]
    return seg[first], gap[first]
