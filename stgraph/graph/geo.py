r"""Coordinates and distances: pure functions shared by the graph builders.

Conventions: coordinates are ``(x, y)`` columns, i.e. ``(lon, lat)`` in degrees for a
geographic CRS; distances come back in metres for geographic input (great circle on a
sphere of radius :data:`EARTH_RADIUS_M`) and in CRS units for projected input.

Great-circle neighbour searches run on 3-D unit vectors: the chord length
:math:`c = \lVert u_i - u_j \rVert` is monotone in the central angle
:math:`\theta = 2 \arcsin(c / 2)`, so a k-d tree over unit vectors answers kNN and radius
queries on the sphere exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius (IUGG) in metres, used for every great-circle distance."""

GRID_CRS = "stgraph:grid-index"
"""Placeholder CRS of lattice cells without lat/lon: ``x = column``, ``y = row`` (unitless cell
indices, planar). It is not a pyproj CRS; stgraph treats it as Euclidean."""


def is_geographic(crs: str) -> bool:
    """``True`` when ``crs`` is a geographic (lon/lat degrees) CRS.

    Args:
        crs: anything :func:`pyproj.CRS.from_user_input` accepts, or :data:`GRID_CRS`.
    """
    if crs == GRID_CRS:
        return False
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return bool(CRS.from_user_input(crs).is_geographic)
    except CRSError as e:
        raise ValueError(f"unknown CRS {crs!r}: {e}") from None


def check_coords(
    xy: np.ndarray, labels: Sequence[Any], *, geographic: bool, what: str = "node"
) -> np.ndarray:
    """Validate ``[N, 2]`` coordinates: finite, and ``lon`` in [-180, 360], ``lat`` in
    [-90, 90] when geographic (the usual sign of swapped columns).

    Args:
        xy: coordinates ``(x, y)``.
        labels: one label per row, used in the error message.
        geographic: apply the lon/lat range check.
        what: noun for the rows in messages.

    Shapes:
        xy: [N, 2] -> [N, 2] float64
    """
    a = np.asarray(xy, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"coordinates must have shape [N, 2] (x, y), got {a.shape}")
    bad = np.flatnonzero(~np.isfinite(a).all(1))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{what} {labels[i]!r} (row {i}) has non-finite coordinates {a[i].tolist()}; "
            f"expected finite (x, y) ({bad.size} such rows)"
        )
    if geographic:
        bad = np.flatnonzero((np.abs(a[:, 1]) > 90) | (a[:, 0] < -180) | (a[:, 0] > 360))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"{what} {labels[i]!r} (row {i}) has (lon, lat) = {a[i].tolist()}; expected "
                "lat in [-90, 90] and lon in [-180, 360] (are the columns swapped?)"
            )
    return a


def unit_vectors(lonlat: np.ndarray) -> np.ndarray:
    """Points on the unit sphere for ``(lon, lat)`` in degrees.

    Shapes:
        lonlat: [N, 2] -> [N, 3]
    """
    lon, lat = np.radians(lonlat[:, 0]), np.radians(lonlat[:, 1])
    c = np.cos(lat)
    return np.column_stack([c * np.cos(lon), c * np.sin(lon), np.sin(lat)])


def chord_to_metres(chord: np.ndarray) -> np.ndarray:
    r"""Great-circle distance :math:`2R \arcsin(c/2)` for unit-sphere chord lengths ``c``."""
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.clip(np.asarray(chord) / 2.0, 0.0, 1.0))


def metres_to_chord(metres: float) -> float:
    r"""Unit-sphere chord :math:`2 \sin(d / 2R)` of a great-circle distance ``d`` (metres)."""
    theta = min(float(metres) / EARTH_RADIUS_M, np.pi)
    return float(2.0 * np.sin(theta / 2.0))


def space_to_distance(d: np.ndarray, sphere: bool) -> np.ndarray:
    """Distances measured in a search space -> metres (``sphere``: unit-sphere chords) or
    CRS units (planar, unchanged)."""
    return chord_to_metres(d) if sphere else np.asarray(d, dtype=np.float64)


def distance_to_space(r: float, sphere: bool) -> float:
    """Inverse of :func:`space_to_distance` for one radius."""
    return metres_to_chord(r) if sphere else float(r)


def haversine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    r"""Great-circle distance in metres between ``(lon, lat)`` points (haversine formula).

    .. math::
        d = 2R \arcsin\sqrt{\sin^2\tfrac{\Delta\varphi}{2}
            + \cos\varphi_1 \cos\varphi_2 \sin^2\tfrac{\Delta\lambda}{2}}

    Shapes:
        a: [..., 2], b: [..., 2] (broadcast) -> [...]
    """
    lon1, lat1 = np.radians(a[..., 0]), np.radians(a[..., 1])
    lon2, lat2 = np.radians(b[..., 0]), np.radians(b[..., 1])
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def utm_crs(lonlat: np.ndarray) -> str:
    """The WGS 84 UTM zone CRS (e.g. ``"EPSG:32610"``) holding the centre of the bounding box
    of ``(lon, lat)`` points (zone = 6-degree band of the centre longitude, north/south by the
    centre latitude).

    Shapes:
        lonlat: [N, 2]
    """
    lon = ((lonlat[:, 0] + 180.0) % 360.0) - 180.0
    lo, hi = float(lon.min()), float(lon.max())
    la, ha = float(lonlat[:, 1].min()), float(lonlat[:, 1].max())
    centre = (lo + hi) / 2.0
    zone = int((centre + 180.0) // 6.0) % 60 + 1
    south = (la + ha) / 2.0 < 0
    return f"EPSG:{(32700 if south else 32600) + zone}"


def transform(xy: np.ndarray, src: str, dst: str) -> np.ndarray:
    """Reproject ``(x, y)`` coordinates from CRS ``src`` to ``dst`` (pyproj, ``always_xy``).

    Shapes:
        xy: [N, 2] -> [N, 2]
    """
    from pyproj import Transformer

    t = Transformer.from_crs(src, dst, always_xy=True)
    x, y = t.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])
