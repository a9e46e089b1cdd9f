"""Monthly tropical-Pacific SST anomalies on a lattice graph (STRbook ``SSTdata``).

The ``[T, H, W]`` field becomes a lattice graph over the sea cells (land cells dropped) via
:mod:`stgraph.graph.lattice`. The step is the calendar month: one timestamp per month start
(``freq="MS"``), so seasonal periods and slots are those of monthly data (12, month of year).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from stgraph.data.io.loaders._common import build_dataset, node_table, open_card
from stgraph.data.io.readers import read_npz
from stgraph.data.io.registry import register_dataset
from stgraph.data.spatiotemporal import SpatioTemporalData


def month_starts(first_month: str, periods: int) -> pd.DatetimeIndex:
    """``periods`` calendar month starts from ``first_month`` (e.g. ``"1970-01"``)."""
    return pd.date_range(pd.Timestamp(first_month), periods=periods, freq="MS")


def read_sst_npz(path: Path) -> dict[str, np.ndarray]:
    """``sst`` [T, H, W], ``lat`` [H], ``lon`` [W], ``land_mask`` [H, W] (True = land), checked."""
    z = read_npz(path, ["sst", "lat", "lon", "land_mask"])
    sst, lat, lon, land = z["sst"], z["lat"], z["lon"], z["land_mask"]
    if sst.ndim != 3 or lat.shape != sst.shape[1:2] or lon.shape != sst.shape[2:3]:
        raise ValueError(
            f"{path}: expected sst [T, H, W] with lat [H] and lon [W], got {sst.shape}, "
            f"{lat.shape}, {lon.shape}"
        )
    if land.shape != sst.shape[1:] or land.dtype != bool:
        raise ValueError(f"{path}: land_mask must be bool [H, W], got {land.dtype} {land.shape}")
    return z


@register_dataset(
    "pacific-sst", "Tropical Pacific monthly SST anomalies (STRbook), 2,261 sea cells, 1970-2003"
)
def load_pacific_sst(data_dir: str | Path | None = None, neighbours: int = 4) -> SpatioTemporalData:
    """SST anomalies on the 2-degree grid (30 x 84 cells, 29S-29N, 124E-290E), Jan 1970 -
    Mar 2003, land cells dropped, lattice graph of rook (4) or queen (8) neighbours.

    Shapes:
        values: [399, 2261, 1] (deg C anomaly); node ids "r{row}_c{col}"
    """
    from stgraph.graph.lattice import grid_to_nodes, lattice_graph

    card, files = open_card("pacific-sst", data_dir)
    z = read_sst_npz(files["pacific_sst/pacific_sst_monthly.npz"])
    land = z["land_mask"]
    graph = lattice_graph(
        lat=z["lat"].astype(float),
        lon=z["lon"].astype(float),
        neighbours=neighbours,
        mask=land,
        name="pacific-sst",
    )
    values = np.asarray(grid_to_nodes(z["sst"].astype(np.float32), land))
    ts = month_starts(card["start"], values.shape[0])
    return build_dataset(
        card, values, graph, timestamps=ts, nodes=node_table(graph.node_ids, graph.coords)
    )
