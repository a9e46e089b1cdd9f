"""Input coercion for the builders: point sets (arrays or GeoDataFrames), ids, CRSs.

Every check names the offending row/id and says what was expected; nothing is dropped or
repaired silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from stgraph.graph import geo
from stgraph.graph.io import unique_ids

Metric = Literal["auto", "haversine", "utm", "euclidean"]


def geo_frame_crs(frame: Any, what: str) -> str:
    """The CRS of a GeoDataFrame/GeoSeries as a string; a missing CRS is an error."""
    if frame.crs is None:
        raise ValueError(
            f"{what} have no CRS; set the one the coordinates are in, e.g. "
            "frame.set_crs('EPSG:4326'), or reproject with frame.to_crs(...)"
        )
    return str(frame.crs.to_string())


def check_geometries(frame: Any, kinds: tuple[str, ...], what: str) -> None:
    """Every geometry present, non-empty and of one of ``kinds`` (shapely ``geom_type``)."""
    geoms = frame.geometry
    for label, g in zip(frame.index, geoms, strict=True):
        if g is None or g.is_empty:
            raise ValueError(f"{what}: row {label!r} has an empty geometry; expected a {kinds[0]}")
        if g.geom_type not in kinds:
            raise ValueError(
                f"{what}: row {label!r} is a {g.geom_type}; expected {' or '.join(kinds)}"
            )


def frame_ids(frame: Any, ids: str | Sequence[Any] | None) -> Sequence[Any]:
    """Ids of a frame's rows: its index (``None``), a column name, or an explicit list."""
    if ids is None:
        return list(frame.index)
    if isinstance(ids, str):
        if ids not in frame.columns:
            raise ValueError(f"id column {ids!r} not found; columns are {list(frame.columns)}")
        return list(frame[ids])
    if len(ids) != len(frame):
        raise ValueError(f"{len(ids)} ids for {len(frame)} rows")
    return list(ids)


@dataclass(frozen=True)
class Points:
    """A validated point set: ids, ``(x, y)`` coordinates and their CRS.

    Shapes:
        xy: [N, 2]
    """

    ids: tuple[str, ...]
    xy: np.ndarray
    crs: str

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def geographic(self) -> bool:
        """``True`` for lon/lat coordinates."""
        return geo.is_geographic(self.crs)

    def lonlat(self) -> np.ndarray:
        """``(lon, lat)`` degrees (reprojected to EPSG:4326 when needed).

        Shapes:
            output: [N, 2]
        """
        return self.xy if self.geographic else geo.transform(self.xy, self.crs, "EPSG:4326")

    def metric_space(self, metric: Metric) -> tuple[np.ndarray, bool]:
        """Coordinates for a k-d tree and whether they are unit-sphere vectors.

        ``"haversine"``: unit vectors (tree distances are chords; see :mod:`stgraph.graph.geo`);
        ``"utm"``: metres in the auto-selected UTM zone; ``"euclidean"``: the CRS's own units
        (refused for lon/lat degrees); ``"auto"``: haversine for geographic CRSs, else
        euclidean.

        Shapes:
            output: [N, 3] (sphere) or [N, 2] (plane)
        """
        if metric == "auto":
            metric = "haversine" if self.geographic else "euclidean"
        if metric == "haversine":
            return geo.unit_vectors(self.lonlat()), True
        if metric == "utm":
            ll = self.lonlat()
            return geo.transform(ll, "EPSG:4326", geo.utm_crs(ll)), False
        if metric == "euclidean":
            if self.geographic:
                raise ValueError(
                    f"metric='euclidean' on lon/lat degrees ({self.crs}) is not a distance; "
                    "use metric='haversine' or 'utm'"
                )
            return self.xy, False
        raise ValueError(
            f"unknown metric {metric!r}; expected 'auto', 'haversine', 'utm' or 'euclidean'"
        )


def as_points(
    points: Any, ids: str | Sequence[Any] | None = None, crs: str | None = None
) -> Points:
    """Coerce user points to :class:`Points`.

    Args:
        points: a GeoDataFrame/GeoSeries of Point geometries (any CRS, which must be set), or
            an array-like ``[N, 2]`` of ``(x, y)`` = ``(lon, lat)``.
        ids: node ids: ``None`` (frame index, or ``0..N-1`` for arrays), a column name, or a
            sequence.
        crs: CRS of an array input (default ``"EPSG:4326"``); not allowed with a frame.

    Shapes:
        points: [N, 2] or N rows
    """
    if hasattr(points, "geometry") and hasattr(points, "crs"):
        if crs is not None:
            raise ValueError("crs= is for arrays; a GeoDataFrame's own CRS is used")
        crs = geo_frame_crs(points, "points")
        check_geometries(points, ("Point",), "points")
        labels = unique_ids(frame_ids(points, ids))
        xy = np.column_stack([points.geometry.x, points.geometry.y])
    else:
        xy = np.asarray(points, dtype=np.float64)
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise ValueError(f"points must have shape [N, 2] (x, y) = (lon, lat), got {xy.shape}")
        if isinstance(ids, str):
            raise ValueError("an id column name needs a GeoDataFrame; pass a list of ids")
        crs = "EPSG:4326" if crs is None else crs
        labels = unique_ids(range(len(xy)) if ids is None else frame_ids(xy, ids))
    xy = geo.check_coords(xy, labels, geographic=geo.is_geographic(crs))
    return Points(labels, xy, crs)
