"""Graphs from polygons: queen / rook contiguity of regions (counties, zones, grid cells)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import shapely

from stgraph.graph.builders._common import finalize
from stgraph.graph.builders._inputs import check_geometries, frame_ids, geo_frame_crs, unique_ids
from stgraph.graph.builders.points import Ids
from stgraph.graph.builders.registry import register_builder
from stgraph.graph.sensor_graph import SensorGraph

Rule = Literal["queen", "rook"]


def _valid(polygons: Any) -> np.ndarray:
    geoms = polygons.geometry.to_numpy()
    bad = np.flatnonzero(~shapely.is_valid(geoms))
    if bad.size:
        label = polygons.index[int(bad[0])]
        reason = shapely.is_valid_reason(geoms[int(bad[0])])
        raise ValueError(
            f"polygons: row {label!r} is not a valid polygon ({reason}); repair it first, e.g. "
            "with shapely.make_valid or frame.buffer(0)"
        )
    return geoms


@register_builder("contiguity", "polygons: queen (shared point) or rook (shared edge) contiguity")
def contiguity_graph(
    polygons: Any,
    *,
    rule: Rule = "queen",
    ids: Ids = None,
    tolerance: float = 0.0,
    name: str = "contiguity",
) -> SensorGraph:
    """Contiguity graph of polygons (weight 1, undirected).

    * ``"queen"``: neighbours share at least one boundary point (touching corners count);
    * ``"rook"``: neighbours share a boundary stretch of positive length (more than
      ``4 * tolerance`` when a tolerance is set, so corner contacts never count).

    Overlapping polygons count as neighbours under both rules. Node coordinates are the
    polygon centroids in the frame's CRS. Polygons touching nothing (islands) warn.

    Args:
        polygons: GeoDataFrame of Polygon / MultiPolygon rows with a CRS.
        rule: ``"queen"`` or ``"rook"``.
        ids: node ids: ``None`` (frame index), a column name, or a sequence.
        tolerance: polygons closer than this (CRS units) are taken to touch, bridging the
            slivers of digitised boundaries.
        name: graph name.

    Shapes:
        polygons: N rows -> graph with N nodes
    """
    if rule not in ("queen", "rook"):
        raise ValueError(f"rule must be 'queen' or 'rook', got {rule!r}")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    crs = geo_frame_crs(polygons, "polygons")
    check_geometries(polygons, ("Polygon", "MultiPolygon"), "polygons")
    node_ids = unique_ids(frame_ids(polygons, ids), "polygon")
    geoms = _valid(polygons)
    grown = shapely.buffer(geoms, tolerance) if tolerance > 0 else geoms
    i, j = shapely.STRtree(grown).query(grown, predicate="intersects")
    pair = i < j
    i, j = i[pair], j[pair]
    if rule == "rook":
        shared = np.maximum(  # both ways, so a polygon inside another counts too
            shapely.length(shapely.intersection(shapely.boundary(geoms[i]), grown[j])),
            shapely.length(shapely.intersection(shapely.boundary(geoms[j]), grown[i])),
        )
        keep = shared > 4 * tolerance
        i, j = i[keep], j[keep]
    xy = shapely.get_coordinates(shapely.centroid(geoms))
    graph = SensorGraph(
        node_ids,
        np.vstack([np.concatenate([i, j]), np.concatenate([j, i])]),
        coords=xy,
        crs=crs,
        directed=False,
        name=name,
    )
    return finalize(graph)
