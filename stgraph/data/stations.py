"""Station tables from pandas / geopandas: ids, coordinates, CRS and extra attributes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: accepted coordinate column pairs (case-insensitive), first match wins
COORD_COLUMNS = (("lon", "lat"), ("longitude", "latitude"), ("lng", "lat"), ("x", "y"))


@dataclass(frozen=True)
class StationTable:
    """Validated stations.

    Args:
        ids: station ids (strings), in node order.
        coords: ``(x, y)`` / ``(lon, lat)`` per station, or ``None``.
        crs: CRS of ``coords``.
        table: node table indexed by ``node_id`` (coordinates and any extra columns).

    Shapes:
        coords: [N, 2]
    """

    ids: list[str]
    coords: np.ndarray | None
    crs: str | None
    table: pd.DataFrame


def _coords_from_geodataframe(gdf: Any, name: str) -> tuple[np.ndarray, str]:
    geom = gdf.geometry
    kinds = set(geom.geom_type.dropna())
    if kinds != {"Point"}:
        raise ValueError(
            f"{name}: station geometries must all be points, got {sorted(kinds)}; use e.g. "
            "gdf.geometry.representative_point() first"
        )
    if gdf.crs is None:
        raise ValueError(f"{name}: the station GeoDataFrame has no CRS (gdf.set_crs(...))")
    return np.column_stack([geom.x.to_numpy(), geom.y.to_numpy()]), gdf.crs.to_string()


def _coords_from_columns(df: pd.DataFrame, name: str) -> tuple[np.ndarray | None, list[str]]:
    lower = {str(c).lower(): c for c in df.columns}
    for xc, yc in COORD_COLUMNS:
        if xc in lower and yc in lower:
            cols = [lower[xc], lower[yc]]
            try:
                xy = df[cols].apply(pd.to_numeric, errors="raise").to_numpy(dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"{name}: station columns {cols} must be numbers") from None
            return xy, cols
    return None, []


def station_table(
    stations: Any, *, id_col: str | None = None, name: str = "data", ids: Sequence[Any] = ()
) -> StationTable:
    """Normalise a station table.

    Args:
        stations: ``None`` (stations = ``ids``, no coordinates), a GeoDataFrame of points (CRS
            taken from it) or a DataFrame with lon/lat, longitude/latitude, lng/lat or x/y
            columns (read as EPSG:4326).
        id_col: column of ``stations`` holding the ids; ``None`` = the index.
        name: dataset name (for messages).
        ids: station ids seen in the measurements (used when ``stations`` is ``None``).

    Raises:
        ValueError: duplicate ids, non-point geometries, missing CRS, non-finite coordinates.
    """
    if stations is None:
        node_ids = [str(i) for i in ids]
        return StationTable(
            node_ids, None, None, pd.DataFrame(index=pd.Index(node_ids, name="node_id"))
        )
    if not isinstance(stations, pd.DataFrame):
        raise ValueError(
            f"{name}: stations must be a (Geo)DataFrame, got {type(stations).__name__}"
        )
    if id_col is not None and id_col not in stations.columns:
        raise ValueError(f"{name}: station table has no id column {id_col!r}")
    df = stations.reset_index(drop=True) if id_col else stations.reset_index()
    id_col = id_col or str(df.columns[0])
    node_ids = df[id_col].astype(str).tolist()
    dup = pd.Index(node_ids).duplicated()
    if dup.any():
        raise ValueError(
            f"{name}: duplicate station id(s) {sorted(set(np.array(node_ids)[dup]))[:5]}"
        )
    geometry = getattr(stations, "_geometry_column_name", None)
    if geometry is not None and hasattr(stations, "crs"):
        xy, crs = _coords_from_geodataframe(stations, name)
        extra = df.drop(columns=[id_col, geometry])
        cols = ["x", "y"] if not stations.crs.is_geographic else ["lon", "lat"]
    else:
        xy_or_none, used = _coords_from_columns(df, name)
        extra = df.drop(columns=[id_col, *used])
        if xy_or_none is None:
            table = extra.set_axis(pd.Index(node_ids, name="node_id"))
            return StationTable(node_ids, None, None, table)
        xy, crs, cols = xy_or_none, "EPSG:4326", ["lon", "lat"]
    bad = np.flatnonzero(~np.isfinite(xy).all(1))
    if bad.size:
        raise ValueError(f"{name}: station {node_ids[bad[0]]!r} has no valid coordinates")
    table = pd.DataFrame(xy, columns=cols, index=pd.Index(node_ids, name="node_id"))
    table = table.join(extra.set_axis(table.index))
    return StationTable(node_ids, xy, crs, table)
