"""Air-quality stations in Beijing: AQI-36 (STMVL release) and the UCI multi-site set.

AQI-36 has coordinates: its graph is a thresholded Gaussian kernel of great-circle distances
(GRIN's recipe). The UCI multi-site files have none: pass ``coords=`` (a table of station,
lon, lat) to get a kNN/Gaussian graph; otherwise the documented fallback is the complete graph
on the 12 stations with unit weights (all lie within one city).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from stgraph.data.frames import from_long_dataframe, from_wide_dataframe
from stgraph.data.io.loaders._common import open_card
from stgraph.data.io.readers import read_csv, read_numeric_csv, to_numeric
from stgraph.data.io.registry import register_dataset
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.graph import SensorGraph

AQI36_FILES = ("aqi36/pm25_ground.txt", "aqi36/pm25_missing.txt", "aqi36/pm25_latlng.txt")


def _aqi36_table(path: Path) -> pd.DataFrame:
    """One STMVL PM2.5 table: ``datetime`` + one column per station (empty = missing)."""
    df = read_csv(path, columns=("datetime",))
    if df.shape[1] < 2:
        raise ValueError(f"{path}: expected station columns after 'datetime'")
    return df


def _aqi36_stations(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    """Station table (``node``, ``lon``, ``lat``) matching column ``001001`` to id ``1001``."""
    loc = read_csv(path, columns=("sensor_id", "latitude", "longitude"))
    xy = to_numeric(loc[["sensor_id", "longitude", "latitude"]], path, missing=(), first_row=2)
    by_id = {int(i): (x, y) for i, x, y in xy}
    missing = [c for c in columns if not c.isdigit() or int(c) not in by_id]
    if missing:
        raise ValueError(f"{path}: no coordinates for stations {missing[:5]}")
    return pd.DataFrame(
        [(c, *by_id[int(c)]) for c in columns], columns=["node", "lon", "lat"]
    ).set_index("node")


@register_dataset("aqi36", "AQI-36 Beijing PM2.5 (STMVL/GRIN), 36 stations, hourly, 1 year")
def load_aqi36(
    data_dir: str | Path | None = None,
    observed: str = "ground",
    graph: str = "gaussian",
    **graph_kw: Any,
) -> SpatioTemporalData:
    """AQI-36: hourly PM2.5 at 36 Beijing stations, May 2014 - April 2015.

    Args:
        data_dir: data root.
        observed: ``"ground"`` (every available reading observed, 13.2% missing) or
            ``"missing"`` (the evaluation entries removed too, 24.6% missing; train imputation
            models on this and score them on :func:`aqi36_evaluation_mask`).
        graph: a point builder of :func:`stgraph.graph.build`: ``"gaussian"`` (default; kappa
            0.1, sigma = std of the great-circle distances) or ``"knn"``.
        **graph_kw: builder options (``k``, ``sigma`` in metres, ``kappa``).

    Shapes:
        values: [8759, 36, 1] (ug/m3)
    """
    if observed not in ("ground", "missing"):
        raise ValueError(f"observed must be 'ground' or 'missing', got {observed!r}")
    _, files = open_card("aqi36", data_dir)
    df = _aqi36_table(files[f"aqi36/pm25_{observed}.txt"])
    stations = _aqi36_stations(files["aqi36/pm25_latlng.txt"], list(df.columns[1:]))
    return from_wide_dataframe(
        df,
        time="datetime",
        stations=stations,
        graph=graph,
        freq="1h",
        feature="pm2.5",
        unit="ug/m3",
        name="aqi36",
        **graph_kw,
    )


def aqi36_evaluation_mask(data_dir: str | Path | None = None) -> torch.Tensor:
    """The standard AQI-36 imputation evaluation mask: readings present in
    ``pm25_ground.txt`` but removed in ``pm25_missing.txt`` (11.3% of all cells).

    Shapes:
        output: [8759, 36, 1] bool, aligned with :func:`load_aqi36`
    """
    ground = load_aqi36(data_dir, "ground", graph="knn")
    reduced = load_aqi36(data_dir, "missing", graph="knn")
    if ground.timestamps.equals(reduced.timestamps) is False:
        raise ValueError("pm25_ground.txt and pm25_missing.txt have different time indexes")
    return ground.mask & ~reduced.mask


# ---------------------------------------------------------------------------- UCI multi-site
BEIJING_STATIONS = (
    "Aotizhongxin", "Changping", "Dingling", "Dongsi", "Guanyuan", "Gucheng", "Huairou",
    "Nongzhanguan", "Shunyi", "Tiantan", "Wanliu", "Wanshouxigong",
)  # fmt: skip
BEIJING_NUMERIC = (
    "PM2.5", "PM10", "SO2", "NO2", "CO", "O3", "TEMP", "PRES", "DEWP", "RAIN", "WSPM",
)  # fmt: skip
BEIJING_UNITS = dict.fromkeys(("PM2.5", "PM10", "SO2", "NO2", "CO", "O3"), "ug/m3") | {
    "TEMP": "degC", "PRES": "hPa", "DEWP": "degC", "RAIN": "mm", "WSPM": "m/s", "wd_sin": "1",
    "wd_cos": "1",
}  # fmt: skip
#: 16-point compass, clockwise from north in 22.5 degree steps
COMPASS = (
    "N",
    "NNE",
    "NE",
    "ENE",
    "E",
    "ESE",
    "SE",
    "SSE",
    "S",
    "SSW",
    "SW",
    "WSW",
    "W",
    "WNW",
    "NW",
    "NNW",
)


def encode_wind_direction(wd: pd.Series, what: str) -> np.ndarray:
    """16-point compass strings (direction the wind blows from) -> ``(sin, cos)`` of the angle
    clockwise from north, so N = (0, 1) and E = (1, 0); ``NA``/empty -> NaN.

    Shapes:
        output: [len(wd), 2]
    """
    text = wd.astype(object).where(wd.notna(), "").astype(str).str.strip()
    known = text.isin(COMPASS)
    missing = text.isin(["", "NA"])
    if not (known | missing).all():
        i = int(np.flatnonzero(~(known | missing))[0])
        raise ValueError(
            f"{what}: row {i + 2}: wind direction {text.iloc[i]!r} is not one of "
            f"{list(COMPASS)} or NA"
        )
    angle = np.radians(text.map({c: 22.5 * i for i, c in enumerate(COMPASS)}).to_numpy(float))
    return np.column_stack([np.sin(angle), np.cos(angle)])


def read_beijing_station(path: Path) -> pd.DataFrame:
    """One UCI station CSV -> long frame (``time``, ``station``, variables, ``wd_sin``,
    ``wd_cos``); ``NA`` = missing."""
    stamp_cols = ["year", "month", "day", "hour"]
    df = read_numeric_csv(path, numeric=[*stamp_cols, *BEIJING_NUMERIC], missing=("NA", ""))
    for c in ("wd", "station"):
        if c not in df.columns:
            raise ValueError(f"{path}: missing column {c!r}")
    stamp = df[stamp_cols]
    if stamp.isna().any().any() or (stamp != stamp.round()).any().any():
        raise ValueError(f"{path}: year/month/day/hour must be whole numbers in every row")
    try:
        time = pd.to_datetime(stamp.astype(int))
    except (ValueError, OverflowError) as e:
        raise ValueError(f"{path}: invalid year/month/day/hour ({e})") from None
    out = df[list(BEIJING_NUMERIC)].reset_index(drop=True)
    out[["wd_sin", "wd_cos"]] = encode_wind_direction(df["wd"], str(path))
    out.insert(0, "station", df["station"].astype(str).str.strip().to_numpy())
    out.insert(0, "time", time.to_numpy())
    return out


def _complete_graph(ids: Sequence[str], name: str) -> SensorGraph:
    n = len(ids)
    src, dst = np.nonzero(~np.eye(n, dtype=bool))
    return SensorGraph(ids, np.vstack([src, dst]), directed=False, name=name)


@register_dataset(
    "beijing-air-quality",
    "UCI Beijing multi-site air quality, 12 stations, hourly 2013-2017, 13 variables",
)
def load_beijing_air_quality(
    data_dir: str | Path | None = None,
    variables: Sequence[str] | None = None,
    coords: pd.DataFrame | None = None,
    graph: str = "knn",
    name: str = "beijing-air-quality",
    **graph_kw: Any,
) -> SpatioTemporalData:
    """The 12 UCI stations, hourly, 2013-03-01 to 2017-02-28.

    Args:
        data_dir: data root.
        variables: features to keep (default all 13: the 11 numeric columns, then ``wd_sin``,
            ``wd_cos`` encoding the wind direction).
        coords: optional station table (``station``, ``lon``, ``lat``): builds a ``graph``
            graph from it. Without it the graph is complete with unit weights (documented
            fallback: the source has no coordinates).
        graph: a point builder (``"knn"``, ``"gaussian"``, ...) when ``coords`` is given.
        name: dataset name.
        **graph_kw: builder options (``k``, ``weight``, ``sigma`` in metres, ``kappa``).

    Shapes:
        values: [35064, 12, len(variables)]
    """
    card, files = open_card("beijing-air-quality", data_dir)
    frames = [read_beijing_station(files[f.path]) for f in card.files]
    long = pd.concat(frames, ignore_index=True)
    names = list(variables) if variables is not None else [*BEIJING_NUMERIC, "wd_sin", "wd_cos"]
    unknown = [v for v in names if v not in BEIJING_UNITS]
    if unknown:
        raise ValueError(f"unknown variable(s) {unknown}; choose from {list(BEIJING_UNITS)}")
    g: str | SensorGraph = graph
    if coords is None:
        g = _complete_graph(sorted(long["station"].unique()), name)
    return from_long_dataframe(
        long,
        time="time",
        node="station",
        values=names,
        stations=coords,
        graph=g,
        freq="1h",
        units=[BEIJING_UNITS[v] for v in names],
        name=name,
        **graph_kw,
    )


@register_dataset(
    "beijing-pm25", "PM2.5 only of the UCI Beijing multi-site set, 12 stations, hourly 2013-2017"
)
def load_beijing_pm25(data_dir: str | Path | None = None, **kw: Any) -> SpatioTemporalData:
    """:func:`load_beijing_air_quality` restricted to PM2.5 (the usual forecasting target).

    Shapes:
        values: [35064, 12, 1] (ug/m3)
    """
    return load_beijing_air_quality(data_dir, variables=("PM2.5",), name="beijing-pm25", **kw)
