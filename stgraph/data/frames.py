"""Bring your own data: pandas / geopandas frames -> :class:`SpatioTemporalData`.

Measurements come as a *long* frame (one row per time x node) or a *wide* frame (one column per
node); stations come as a GeoDataFrame of points or a DataFrame with lon/lat columns. Irregular
timestamps are put on a regular grid (several readings in one slot are averaged), empty slots
are masked — never filled.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from stgraph.data.calendar import grid_positions, infer_freq, parse_freq
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.data.stations import StationTable, station_table
from stgraph.graph import SensorGraph, build

log = logging.getLogger("stgraph.data")


def infer_frequency(times: pd.DatetimeIndex) -> pd.DateOffset:
    """Frequency of raw readings (gaps and sub-daily jitter allowed; see
    :func:`stgraph.data.calendar.infer_freq` with ``regular=False``).

    Raises:
        ValueError: fewer than two timestamps, or sampling too irregular to guess (the
            offending gap is named): pass ``freq``.
    """
    return infer_freq(times, regular=False)


def to_regular_grid(
    times: pd.DatetimeIndex,
    rows: np.ndarray,
    freq: str | pd.Timedelta | pd.DateOffset | None = None,
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Place rows on a regular time grid; slots without a reading are NaN.

    The grid and each row's slot come from :func:`stgraph.data.calendar.grid_positions`
    (fixed steps: the first timestamp floored to the step; calendar months, quarters,
    years: the period holding each timestamp). Several finite readings in one slot are
    averaged (NaN readings are ignored).

    Args:
        times: one timestamp per row (any order).
        rows: the readings (NaN = missing).
        freq: grid step (``"1h"``, ``"D"``, ``"W-MON"``, ``"MS"``...); ``None`` infers it
            (:func:`infer_frequency`).

    Shapes:
        rows: [R, ...] -> (grid [T], out [T, ...] float64)
    """
    times = pd.DatetimeIndex(times)
    if times.hasnans:
        raise ValueError("timestamps contain NaT")
    grid, slot = grid_positions(times, infer_frequency(times) if freq is None else freq)
    t = len(grid)
    flat = np.asarray(rows, dtype=np.float64).reshape(len(times), -1)
    out = np.full((t, flat.shape[1]), np.nan)
    if len(np.unique(slot)) == len(slot):
        out[slot] = flat
    else:
        ok = np.isfinite(flat)
        total = np.zeros_like(out)
        count = np.zeros_like(out)
        np.add.at(total, slot, np.where(ok, flat, 0.0))
        np.add.at(count, slot, ok)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(count > 0, total / count, np.nan)
    return grid, out.reshape((t, *np.shape(rows)[1:]))


def _parse_times(col: pd.Series | pd.Index, what: str) -> pd.DatetimeIndex:
    """Datetimes (tz-aware ones converted to naive UTC); empty or unparsable entries are named.
    Plain numbers are refused: epochs are ambiguous (convert with
    ``pd.to_datetime(..., unit=...)``)."""
    raw = pd.Series(col).reset_index(drop=True)
    if raw.isna().any():
        raise ValueError(f"{what}: row {int(np.flatnonzero(raw.isna())[0])} has no timestamp")
    numeric = raw.map(lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool))
    if pd.api.types.is_numeric_dtype(raw) or numeric.any():
        i = int(np.flatnonzero(numeric)[0]) if numeric.any() else 0
        raise ValueError(
            f"{what}: row {i}: {raw.iloc[i]!r} is a number, not a timestamp (convert epochs "
            "with pd.to_datetime(..., unit='s') first)"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format": checked below
        try:
            ts = pd.to_datetime(raw, errors="coerce")
        except (TypeError, ValueError, OverflowError) as e:
            raise ValueError(f"{what}: cannot parse timestamps ({e})") from None
    if ts.isna().any():
        i = int(np.flatnonzero(ts.isna())[0])
        raise ValueError(f"{what}: row {i}: {raw.iloc[i]!r} is not a timestamp")
    idx = pd.DatetimeIndex(ts)
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    return idx


def _numeric(df: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    """Columns as float (empty text and NA = missing); a cell that is neither missing nor a
    number is named in the error."""
    out = {}
    for c in cols:
        s = df[c]
        if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
            s = s.where(s.astype(str).str.strip() != "")  # empty text = missing
        num = pd.to_numeric(s, errors="coerce") if not pd.api.types.is_bool_dtype(s) else s
        bad = num.isna().to_numpy() & s.notna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"column {c!r}, row {i}: {s.iloc[i]!r} is not a number")
        out[c] = num.astype(np.float64)
    return pd.DataFrame(out, index=df.index)


def _graph_for(
    graph: str | SensorGraph | None, stations: StationTable, name: str, graph_kw: dict[str, Any]
) -> SensorGraph:
    """The given graph (validated against the station ids) or one built from coordinates."""
    ids = list(stations.ids)
    if isinstance(graph, SensorGraph):
        if sorted(graph.node_ids) != sorted(ids):
            extra = sorted(set(ids) - set(graph.node_ids))[:5]
            raise ValueError(f"{name}: graph nodes do not match the stations (e.g. {extra})")
        return graph
    if graph in (None, "none"):
        return SensorGraph(
            ids,
            np.zeros((2, 0), dtype=np.int64),
            coords=stations.coords,
            crs=stations.crs,
            name=name,
        )
    if stations.coords is None:
        raise ValueError(
            f"{name}: graph={graph!r} needs station coordinates; pass stations= (a GeoDataFrame "
            "or a DataFrame with lon/lat columns) or graph=SensorGraph(...)"
        )
    return build(str(graph), stations.coords, ids=ids, crs=stations.crs, name=name, **graph_kw)


def _assemble(
    grid: pd.DatetimeIndex,
    values: np.ndarray,
    stations: StationTable,
    graph: SensorGraph,
    features: Sequence[str],
    units: Sequence[str],
    covariates: np.ndarray | None,
    covariate_names: Sequence[str],
    name: str,
    freq: pd.DateOffset,
) -> SpatioTemporalData:
    """Reorder to the graph's node order and build the dataset."""
    order = [stations.ids.index(i) for i in graph.node_ids]
    nodes = stations.table.iloc[order]
    v = np.array(values[:, order], dtype=np.float32)
    return SpatioTemporalData(
        torch.from_numpy(v),
        torch.from_numpy(np.isfinite(v)),
        grid,
        graph,
        tuple(features),
        nodes,
        None if covariates is None else torch.from_numpy(covariates[:, order].astype(np.float32)),
        tuple(covariate_names),
        name=name,
        units=tuple(units),
        freq=freq,
    )


def from_long_dataframe(
    df: pd.DataFrame,
    *,
    time: str,
    node: str,
    values: Sequence[str],
    stations: Any = None,
    station_id: str | None = None,
    graph: str | SensorGraph | None = "knn",
    freq: str | pd.Timedelta | pd.DateOffset | None = None,
    covariates: Sequence[str] = (),
    covariate_fill: str = "error",
    units: Sequence[str] = (),
    name: str = "data",
    **graph_kw: Any,
) -> SpatioTemporalData:
    """Dataset from a long frame: one row per (timestamp, node).

    Args:
        df: measurements.
        time: timestamp column (parsed with ``pd.to_datetime``; tz-aware -> naive UTC).
        node: station id column (ids compared as strings).
        values: measured columns -> the features ``F``; empty cells are missing.
        stations: station table (GeoDataFrame of points, or DataFrame with lon/lat or
            longitude/latitude or x/y columns). ``None``: stations are the distinct ids of
            ``df`` (no coordinates).
        station_id: id column of ``stations``; default: a column named like ``node`` when
            present, else the index.
        graph: a point builder of :func:`stgraph.graph.build` (``"knn"``, ``"gaussian"``,
            ``"radius"``, ``"delaunay"``) applied to the station coordinates, a ready
            ``SensorGraph``, or ``None`` (no edges).
        freq: grid step (e.g. ``"1h"``, ``"D"``, ``"W-MON"``, ``"MS"`` for calendar months;
            see :func:`stgraph.data.calendar.parse_freq`); ``None`` infers it
            (:func:`infer_frequency`: calendar months, quarters, years and weeks included;
            ambiguous timestamps are refused with the offending gap named).
        covariates: known-in-advance columns (e.g. a holiday flag) -> per-node covariates.
        covariate_fill: what to do where a covariate is unknown on the grid: ``"error"`` or
            ``"ffill"`` (carry the node's last known value forward; explicit opt-in).
        units: units per value column.
        name: dataset name.
        **graph_kw: options of the builder (e.g. ``k``, ``weight`` for ``knn``; ``sigma`` in
            metres and ``kappa`` for ``gaussian``).

    Shapes:
        output values: [T, N, len(values)], covariates [T, N, 2 + len(covariates)]

    Raises:
        ValueError: missing columns, unparsable timestamps or numbers, duplicate
            (time, node) rows (listed), measurements at unknown stations (listed), unknown
            covariates without ``covariate_fill="ffill"``.
    """
    values, covariates = list(values), list(covariates)
    need = [time, node, *values, *covariates]
    missing = [c for c in dict.fromkeys(need) if c not in df.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing}; have {list(df.columns)[:20]}")
    if not values:
        raise ValueError(f"{name}: values= must name at least one measured column")
    if len(df) == 0:
        raise ValueError(f"{name}: the frame has no rows")
    times = _parse_times(df[time], f"{name}: column {time!r}")
    nodes = df[node].astype(str).to_numpy()
    if pd.isna(df[node]).any():
        raise ValueError(
            f"{name}: column {node!r} row {int(np.flatnonzero(pd.isna(df[node]))[0])}"
            " has no node id"
        )
    key = pd.MultiIndex.from_arrays([times, nodes], names=["time", "node"])
    dup = key.duplicated(keep=False)
    if dup.any():
        rows = np.flatnonzero(dup)[:6].tolist()
        pairs = sorted({(str(times[i]), nodes[i]) for i in rows})[:3]
        raise ValueError(
            f"{name}: {int(dup.sum())} rows share a (time, node) pair, e.g. {pairs} (rows "
            f"{rows}); aggregate or drop duplicates first"
        )
    sid = (
        station_id
        if station_id is not None
        else (node if stations is not None and node in stations.columns else None)
    )
    table = station_table(stations, id_col=sid, name=name, ids=pd.unique(nodes))
    unknown = sorted(set(nodes) - set(table.ids))
    if unknown:
        raise ValueError(
            f"{name}: measurements for {len(unknown)} station(s) missing from the station "
            f"table: {unknown[:10]}"
        )
    silent = sorted(set(table.ids) - set(nodes))
    if silent:
        log.warning(
            "%s: %d station(s) have no measurements (all masked): %s",
            name,
            len(silent),
            silent[:10],
        )
    cols = [*values, *covariates]
    num = _numeric(df, cols)
    num.index = key
    wide = num.unstack("node").reindex(columns=pd.MultiIndex.from_product([cols, table.ids]))
    stamps = pd.DatetimeIndex(wide.index)
    off = infer_frequency(stamps) if freq is None else parse_freq(freq)
    grid, arr = to_regular_grid(stamps, wide.to_numpy(), off)
    arr = arr.reshape(len(grid), len(cols), len(table.ids)).transpose(0, 2, 1)
    cov = None
    if covariates:
        cov = arr[..., len(values) :]
        if covariate_fill == "ffill":
            cov = pd.DataFrame(cov.reshape(len(grid), -1)).ffill().to_numpy().reshape(cov.shape)
        elif covariate_fill != "error":
            raise ValueError(f"covariate_fill must be 'error' or 'ffill', got {covariate_fill!r}")
        if np.isnan(cov).any():
            t, n, c = np.argwhere(np.isnan(cov))[0]
            raise ValueError(
                f"{name}: covariate {covariates[c]!r} is unknown at {grid[t]} for node "
                f"{table.ids[n]!r} ({int(np.isnan(cov).sum())} such cells); covariates must be "
                "known on the whole grid — fill them yourself or pass covariate_fill='ffill'"
            )
    g = _graph_for(graph, table, name, graph_kw)
    return _assemble(
        grid, arr[..., : len(values)], table, g, values, units, cov, covariates, name, off
    )


def from_wide_dataframe(
    df: pd.DataFrame,
    *,
    time: str | None = None,
    stations: Any = None,
    station_id: str | None = None,
    graph: str | SensorGraph | None = "knn",
    freq: str | pd.Timedelta | pd.DateOffset | None = None,
    feature: str = "value",
    unit: str = "",
    name: str = "data",
    **graph_kw: Any,
) -> SpatioTemporalData:
    """Dataset from a wide frame: one row per timestamp, one column per node (one feature).

    Args:
        df: measurements; every column except ``time`` is a node.
        time: timestamp column; ``None`` uses the index.
        stations, graph, freq, name, **graph_kw: as in :func:`from_long_dataframe`.
        station_id: id column of ``stations``; default: the index.
        feature: the feature's name.
        unit: its unit.

    Shapes:
        output values: [T, N, 1]

    Raises:
        ValueError: duplicate timestamps (listed), non-numeric cells, unknown stations.
    """
    if time is not None and time not in df.columns:
        raise ValueError(f"{name}: missing time column {time!r}")
    if df.shape[0] == 0:
        raise ValueError(f"{name}: the frame has no rows")
    body = df.drop(columns=[time]) if time is not None else df
    raw_times = df[time] if time is not None else df.index.to_series()
    times = _parse_times(raw_times, f"{name}: {'column ' + repr(time) if time else 'index'}")
    dup = times.duplicated(keep=False)
    if dup.any():
        raise ValueError(f"{name}: duplicate timestamps, e.g. {sorted(set(times[dup]))[:3]}")
    ids = [str(c) for c in body.columns]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{name}: duplicate node columns")
    body = _numeric(body.set_axis(ids, axis=1), ids)
    table = station_table(stations, id_col=station_id, name=name, ids=ids)
    unknown = sorted(set(ids) - set(table.ids))
    if unknown:
        raise ValueError(f"{name}: columns {unknown[:10]} are not in the station table")
    body = body.reindex(columns=list(table.ids))
    off = infer_frequency(times) if freq is None else parse_freq(freq)
    grid, arr = to_regular_grid(times, body.to_numpy(), off)
    g = _graph_for(graph, table, name, graph_kw)
    return _assemble(
        grid, arr[..., None], table, g, [feature], [unit] if unit else [], None, (), name, off
    )
