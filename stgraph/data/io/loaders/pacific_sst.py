"""Monthly tropical-Pacific SST anomalies on a lattice graph (STRbook ``SSTdata``).

The ``[T, H, W]`` field becomes a lattice graph over the sea cells (land cells dropped) via
:mod:`stgraph.graph.lattice`. Months are not equally long, and stgraph requires a regular time
step: timestamps advance by the mean Gregorian month (30.436875 days) from mid-January 1970, so
every stamp stays inside its calendar month (checked).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from stgraph.data.io.loaders._common import build_dataset, node_table, open_card
from stgraph.data.io.readers import read_npz
from stgraph.data.io.registry import register_dataset
from stgraph.data.spatiotemporal import SpatioTemporalData

MEAN_MONTH = pd.Timedelta(days=365.2425 / 12)


def mean_month_index(first_month: str, periods: int) -> pd.DatetimeIndex:
    """Regular timestamps one mean Gregorian month apart, starting mid-``first_month``; stamp
    ``k`` lies inside calendar month ``first_month + k``.

    Raises:
        ValueError: if a stamp would leave its month (cannot happen for realistic spans).
    """
    start = pd.Timestamp(first_month) + MEAN_MONTH / 2
    ts = pd.date_range(start, periods=periods, freq=MEAN_MONTH)
    want = pd.period_range(first_month, periods=periods, freq="M")
    if not (ts.to_period("M") == want).all():
        raise ValueError("mean-month timestamps drifted out of their calendar months")
    return ts


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
    ts = mean_month_index(card["start"], values.shape[0])
    return build_dataset(
        card, values, graph, timestamps=ts, nodes=node_table(graph.node_ids, graph.coords)
    )
