"""Interim station-graph builder (kNN or thresholded Gaussian kernel on coordinates).

Used by loaders of point/station datasets until ``stgraph.graph.build`` is available; it will
then replace this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from stgraph.graph import SensorGraph
from stgraph.graph.kernels import gaussian_kernel

EARTH_RADIUS_KM = 6371.0088
GEOGRAPHIC_CRS = ("EPSG:4326", "OGC:CRS84", "WGS84")


def pairwise_distance(coords: np.ndarray, crs: str) -> np.ndarray:
    """Distances between all points: great-circle (haversine, km) for ``EPSG:4326``
    ``(lon, lat)`` coordinates, Euclidean in CRS units otherwise.

    Shapes:
        coords: [N, 2] -> [N, N] float64
    """
    xy = np.asarray(coords, dtype=np.float64)
    if crs.upper() not in GEOGRAPHIC_CRS:
        return np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    lon, lat = np.radians(xy[:, 0]), np.radians(xy[:, 1])
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    h = np.sin(dlat / 2) ** 2 + np.cos(lat)[:, None] * np.cos(lat)[None, :] * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def station_graph(
    node_ids: Sequence[Any],
    coords: np.ndarray,
    crs: str = "EPSG:4326",
    method: str = "knn",
    *,
    k: int = 8,
    sigma: float | None = None,
    kappa: float = 0.1,
    name: str = "stations",
) -> SensorGraph:
    r"""Undirected graph of stations from their coordinates.

    ``knn``: each station is linked to its ``k`` nearest others (union of both directions),
    weighted :math:`\exp(-d^2/\sigma^2)`. ``gaussian``: every pair with
    :math:`\exp(-d^2/\sigma^2) \ge \kappa` (DCRNN's thresholded kernel). ``sigma`` defaults to
    the standard deviation of all pairwise distances. No self-loops.

    Args:
        node_ids: station ids, in series order.
        coords: ``(lon, lat)`` for geographic CRSs, ``(x, y)`` otherwise.
        crs: CRS of ``coords``.
        method: ``"knn"`` or ``"gaussian"``.
        k: neighbours per station (``knn``).
        sigma: kernel width in km (geographic) or CRS units.
        kappa: weight threshold (``gaussian``).
        name: graph name.

    Shapes:
        coords: [N, 2] -> SensorGraph with N nodes
    """
    xy = np.asarray(coords, dtype=np.float64)
    n = len(node_ids)
    if xy.shape != (n, 2) or not np.isfinite(xy).all():
        raise ValueError(f"{name}: coords must be finite [N={n}, 2], got shape {xy.shape}")
    d = pairwise_distance(xy, crs)
    if sigma is None:
        sigma = float(d.std()) if n > 1 and d.std() > 0 else 1.0
    off = ~np.eye(n, dtype=bool)
    if method == "knn":
        if not 1 <= k:
            raise ValueError(f"{name}: k must be >= 1, got {k}")
        near = np.argsort(np.where(off, d, np.inf), axis=1, kind="stable")[:, : min(k, n - 1)]
        keep = np.zeros((n, n), dtype=bool)
        keep[np.repeat(np.arange(n), near.shape[1]), near.ravel()] = True
        keep |= keep.T
        w = np.exp(-np.square(d / sigma)) * keep
        w[keep & (w == 0)] = np.finfo(np.float32).tiny  # far neighbours keep a (tiny) edge
    elif method == "gaussian":
        w = gaussian_kernel(d, sigma=sigma, kappa=kappa).astype(np.float64) * off
    else:
        raise ValueError(f"{name}: unknown graph method {method!r}; expected 'knn' or 'gaussian'")
    w = np.maximum(w, w.T)  # exact symmetry despite rounding
    return SensorGraph.from_dense(w, list(node_ids), directed=False, coords=xy, crs=crs, name=name)
