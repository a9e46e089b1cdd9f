"""Los-loop (T-GCN) loader: speeds, adjacency and METR-LA sensor coordinates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from stgraph.data.cards import load_card, locate_files
from stgraph.data.registry import register_dataset
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.graph import SensorGraph


def read_csv_matrix(path: Path, header: bool) -> tuple[list[str] | None, np.ndarray]:
    """Read a numeric CSV matrix, with a clear error naming the file and the bad cell.

    Shapes:
        output: [rows, cols] float64
    """
    try:
        df = pd.read_csv(path, header=0 if header else None, dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot parse as CSV ({e})") from None
    num = df.apply(pd.to_numeric, errors="coerce")
    bad = num.isna() & (df.apply(lambda c: c.str.strip()) != "")
    if bad.to_numpy().any():
        r, c = np.argwhere(bad.to_numpy())[0]
        raise ValueError(
            f"{path}: row {r + (2 if header else 1)}, column {df.columns[c]!r}: "
            f"{df.iat[r, c]!r} is not a number"
        )
    ids = [str(c).strip() for c in df.columns] if header else None
    return ids, num.to_numpy(dtype=np.float64)


@register_dataset(
    "los-loop", "Los-loop highway speeds (T-GCN), 207 sensors, 5-min, 7 days; needs the data files"
)
def load_los_loop(data_dir: str | Path | None = None) -> SpatioTemporalData:
    """Load Los-loop from ``<root>/los_loop/{los_speed,los_adj}.csv`` and, when present,
    coordinates from ``<root>/metr_la_graph/graph_sensor_locations.csv``.

    Timestamps start at 2012-03-01 00:00 with a 5-minute step. Zero speeds would be treated
    as missing (there are none in the release).

    Shapes:
        values: [2016, 207, 1] (mph)
    """
    card = load_card("los-loop")
    files = locate_files(card, data_dir)
    ids, speed = read_csv_matrix(files["los_loop/los_speed.csv"], header=True)
    assert ids is not None
    _, adj = read_csv_matrix(files["los_loop/los_adj.csv"], header=False)
    n = len(ids)
    if adj.shape != (n, n):
        raise ValueError(
            f"los_adj.csv is {adj.shape}, expected ({n}, {n}) to match los_speed.csv's {n} columns"
        )
    coords = crs = None
    loc_path = files.get("metr_la_graph/graph_sensor_locations.csv")
    if loc_path is not None:
        loc = pd.read_csv(loc_path, dtype={"sensor_id": str})
        loc = loc.set_index("sensor_id")
        missing = [i for i in ids if i not in loc.index]
        if missing:
            raise ValueError(f"{loc_path}: no coordinates for Los-loop sensors {missing[:5]}")
        coords = loc.loc[ids, ["longitude", "latitude"]].to_numpy(dtype=float)
        crs = "EPSG:4326"
    graph = SensorGraph.from_dense(adj, ids, coords=coords, crs=crs, name="los-loop")
    ts = pd.date_range(card["start"], periods=speed.shape[0], freq=card["frequency"])
    values = speed[..., None]
    mask = np.isfinite(values) & (values > 0)
    nodes = pd.DataFrame(index=pd.Index(ids, name="node_id"))
    if coords is not None:
        nodes["lon"], nodes["lat"] = coords[:, 0], coords[:, 1]
    return SpatioTemporalData(
        torch.tensor(values),
        torch.tensor(mask),
        ts,
        graph,
        ("speed",),
        nodes,
        name="los-loop",
        units=("mph",),
    )
