"""NOAA daily weather at 328 irregular US stations, 1990-1993 (STRbook ``NOAA_df_1990``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stgraph.data.io.loaders._common import build_dataset, node_table, open_card
from stgraph.data.io.readers import read_numeric_matrix
from stgraph.data.io.registry import register_dataset
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.graph import build

NOAA_VARIABLES = (("Tmax", "degF"), ("Tmin", "degF"), ("Precip", "inch"))
#: missing-value codes (Precip stores -99.99 as float32: -99.989998)
MISSING_CODES = (-9999.0, -99.99)


def read_noaa_matrix(path: Path) -> np.ndarray:
    """A whitespace ``days x stations`` table with the codes of :data:`MISSING_CODES` -> NaN.

    Shapes:
        output: [days, stations] float64
    """
    _, v = read_numeric_matrix(path, header=False, sep=r"\s+")
    v = v.copy()
    for code in MISSING_CODES:
        v[np.isclose(v, code, rtol=0.0, atol=1e-3)] = np.nan
    return v


def read_noaa_times(path: Path) -> pd.DatetimeIndex:
    """``Times_1990.dat`` rows ``julian year month day`` -> daily timestamps (checked regular)."""
    _, t = read_numeric_matrix(path, header=False, sep=r"\s+")
    if t.ndim != 2 or t.shape[1] != 4:
        raise ValueError(f"{path}: expected 4 columns (julian year month day), got {t.shape[1]}")
    try:
        ts = pd.to_datetime(pd.DataFrame(t[:, 1:].astype(int), columns=["year", "month", "day"]))
    except (ValueError, OverflowError) as e:
        raise ValueError(f"{path}: invalid dates ({e})") from None
    if (np.diff(ts.to_numpy()) != np.timedelta64(1, "D")).any():
        raise ValueError(f"{path}: dates are not consecutive days")
    return pd.DatetimeIndex(ts)


@register_dataset(
    "noaa-weather", "NOAA daily Tmax/Tmin/precipitation, 328 US stations, 1990-1993 (STRbook)"
)
def load_noaa_weather(
    data_dir: str | Path | None = None, graph: str = "knn", **graph_kw: Any
) -> SpatioTemporalData:
    """Daily maximum/minimum temperature and precipitation at 328 stations (central/eastern
    US), 1990-01-01 to 1993-12-31, on a graph of great-circle distances between stations.

    Args:
        data_dir: data root.
        graph: a point builder of :func:`stgraph.graph.build`: ``"knn"`` (default: k = 8,
            symmetric, Gaussian weights with sigma = mean edge length) or ``"gaussian"``.
        **graph_kw: builder options (``k``, ``weight``, ``sigma`` in metres, ``kappa``).

    Shapes:
        values: [1461, 328, 3] (Tmax degF, Tmin degF, Precip inch)
    """
    card, files = open_card("noaa-weather", data_dir)
    root = "noaa_daily_1990"
    ts = read_noaa_times(files[f"{root}/Times_1990.dat"])
    _, info = read_numeric_matrix(files[f"{root}/Stationinfo.dat"], header=False, sep=r"\s+")
    if info.shape[1] != 3:
        raise ValueError(f"{files[f'{root}/Stationinfo.dat']}: expected rows 'id lat lon'")
    ids = [str(int(i)) for i in info[:, 0]]
    coords = info[:, [2, 1]]
    layers = []
    for var, _ in NOAA_VARIABLES:
        path = files[f"{root}/{var}_1990.dat"]
        v = read_noaa_matrix(path)
        if v.shape != (len(ts), len(ids)):
            raise ValueError(f"{path}: shape {v.shape}, expected ({len(ts)}, {len(ids)})")
        layers.append(v)
    defaults = {"k": 8, "weight": "gaussian"} if graph == "knn" else {}
    g = build(graph, coords, ids=ids, crs="EPSG:4326", name="noaa-weather", **(defaults | graph_kw))
    return build_dataset(
        card, np.stack(layers, -1), g, timestamps=ts, nodes=node_table(ids, coords)
    )
