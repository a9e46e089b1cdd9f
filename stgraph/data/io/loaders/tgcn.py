"""T-GCN releases (Zhao et al., IEEE T-ITS 2019): Los-loop (CSV) and SZ-taxi (npz + CSV)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stgraph.data.io.loaders._common import build_dataset, node_table, open_card
from stgraph.data.io.loaders.dcrnn import read_sensor_locations
from stgraph.data.io.readers import read_npz, read_numeric_matrix
from stgraph.data.io.registry import register_dataset
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.graph import SensorGraph


def read_adjacency(path: Path, n: int, against: str) -> np.ndarray:
    """A header-less ``n x n`` adjacency CSV.

    Shapes:
        output: [n, n] float64
    """
    _, adj = read_numeric_matrix(path, header=False)
    if adj.shape != (n, n):
        raise ValueError(
            f"{path}: adjacency is {adj.shape}, expected ({n}, {n}) to match {against}"
        )
    return adj


@register_dataset("los-loop", "Los-loop highway speeds (T-GCN), 207 sensors, 5-min, 7 days")
def load_los_loop(data_dir: str | Path | None = None) -> SpatioTemporalData:
    """Load Los-loop from ``<root>/los_loop/{los_speed,los_adj}.csv`` and, when present,
    coordinates from ``<root>/metr_la_graph/graph_sensor_locations.csv``.

    Timestamps start at 2012-03-01 00:00 with a 5-minute step. Zero speeds would be treated
    as missing (there are none in the release).

    Shapes:
        values: [2016, 207, 1] (mph)
    """
    card, files = open_card("los-loop", data_dir)
    ids, speed = read_numeric_matrix(files["los_loop/los_speed.csv"], header=True)
    assert ids is not None
    adj = read_adjacency(files["los_loop/los_adj.csv"], len(ids), "los_speed.csv's columns")
    loc_path = files.get("metr_la_graph/graph_sensor_locations.csv")
    coords = None if loc_path is None else read_sensor_locations(loc_path, ids)
    graph = SensorGraph.from_dense(
        adj, ids, coords=coords, crs=None if coords is None else "EPSG:4326", name="los-loop"
    )
    values = speed[..., None]
    return build_dataset(
        card, values, graph, mask=np.isfinite(values) & (values > 0), nodes=node_table(ids, coords)
    )


@register_dataset(
    "sz-taxi", "SZ-taxi road speeds in Shenzhen (T-GCN), 156 roads, 15-min, January 2015"
)
def load_sz_taxi(
    data_dir: str | Path | None = None, zeros_missing: bool = True
) -> SpatioTemporalData:
    """Load SZ-taxi from ``<root>/sz_taxi/SZ_taxi.npz`` (key ``data``) and ``sz_adj.csv``.

    Args:
        data_dir: data root.
        zeros_missing: treat zero speeds (no taxi observed on the road in that slot, 24.8% of
            entries) as missing (default); ``False`` keeps them as observed zeros, as T-GCN did.

    Shapes:
        values: [2976, 156, 1] (km/h)
    """
    card, files = open_card("sz-taxi", data_dir)
    path = files["sz_taxi/SZ_taxi.npz"]
    data = read_npz(path, ["data"])["data"]
    if data.ndim == 2:
        data = data[..., None]
    if data.ndim != 3 or data.shape[2] != 1:
        raise ValueError(f"{path}: 'data' must be [T, N, 1], got {data.shape}")
    n = data.shape[1]
    adj = read_adjacency(files["sz_taxi/sz_adj.csv"], n, "SZ_taxi.npz's roads")
    ids = [str(i) for i in range(n)]
    graph = SensorGraph.from_dense(adj, ids, name="sz-taxi")
    mask = np.isfinite(data) & ((data != 0) if zeros_missing else True)
    return build_dataset(card, data, graph, mask=mask)
