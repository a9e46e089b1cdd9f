"""DCRNN releases (Li et al., ICLR 2018): METR-LA and PEMS-BAY sensor graphs and series.

Graph files: ``adj_mx.pkl`` (read with the restricted unpickler of :mod:`stgraph.graph.io`),
road-distance CSVs (:func:`stgraph.graph.io.read_distance_table`) and sensor locations.
Series: ``metr-la.h5`` / ``pems-bay.h5`` (pandas HDF5, read with h5py). Zero speeds are missing
readings (DCRNN's convention) and gaps in the time index are masked.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from stgraph.data.frames import from_wide_dataframe
from stgraph.data.io.hdf5 import read_pandas_hdf
from stgraph.data.io.loaders._common import node_table, open_card
from stgraph.data.io.readers import read_csv, to_numeric
from stgraph.data.io.registry import register_dataset
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.graph import SensorGraph, build
from stgraph.graph.io import read_dcrnn_adj_pickle, read_distance_table


def read_adj_mx(path: str | Path) -> tuple[list[str], np.ndarray]:
    """DCRNN ``adj_mx.pkl`` (``[sensor_ids, {id: index}, adj]``) through the restricted
    unpickler of :func:`stgraph.graph.io.read_dcrnn_adj_pickle`; every failure (a forbidden
    global, a truncated or foreign file) is a ``ValueError`` naming the file.

    Returns:
        ``(sensor ids, adjacency)`` with ``adj[i, j]`` the weight of ``i -> j``.

    Shapes:
        adj: [N, N] float32
    """
    try:
        ids, _, adj = read_dcrnn_adj_pickle(path)
    except ValueError:
        raise
    except (pickle.UnpicklingError, EOFError, TypeError, AttributeError, IndexError) as e:
        raise ValueError(f"{path}: not a safe DCRNN adjacency pickle ({e})") from None
    return ids, adj


def read_sensor_locations(path: str | Path, ids: Sequence[str]) -> np.ndarray:
    """``(lon, lat)`` of ``ids`` from DCRNN location files: ``index,sensor_id,latitude,longitude``
    with a header (METR-LA) or ``sensor_id,latitude,longitude`` without one (PEMS-BAY).

    Shapes:
        output: [len(ids), 2]
    """
    df = read_csv(path, header=False)
    first = [c.strip().lower() for c in df.iloc[0]]
    if "latitude" in first:
        df = df.iloc[1:].set_axis(first, axis=1)
        cols = ["sensor_id", "longitude", "latitude"]
        if any(c not in df.columns for c in cols):
            raise ValueError(f"{path}: expected columns {cols}, found {first}")
        df = df[cols]
    elif df.shape[1] == 3:
        df = df[[0, 2, 1]]
    else:
        raise ValueError(f"{path}: expected sensor_id,latitude,longitude rows")
    xy = to_numeric(df.iloc[:, 1:], path, missing=(), first_row=1 + int("latitude" in first))
    table = pd.DataFrame(xy, index=df.iloc[:, 0].str.strip())
    missing = [i for i in ids if i not in table.index]
    if missing:
        raise ValueError(f"{path}: no coordinates for sensors {missing[:5]}")
    return table.loc[list(ids)].to_numpy()


def distance_graph(
    ids: Sequence[str], distances: str | Path, kappa: float = 0.1, name: str = "graph"
) -> SensorGraph:
    r"""DCRNN's directed road graph from a ``from,to,distance`` file:
    :math:`W_{ij} = \exp(-d_{ij}^2/\sigma^2)` for listed pairs of known sensors (others
    dropped, as DCRNN does), ``sigma`` = std of their distances, entries below ``kappa``
    dropped (the ``distance-table`` builder of :mod:`stgraph.graph`).

    Shapes:
        output: SensorGraph with len(ids) nodes
    """
    table = read_distance_table(distances, ids, unknown="drop")
    return build("distance-table", table, ids, kappa=kappa, name=name)


def _graph(name: str, data_dir: str | Path | None, pkl: str, loc: str) -> SensorGraph:
    _, files = open_card(name, data_dir, only=[pkl, loc])
    ids, adj = read_adj_mx(files[pkl])
    coords = read_sensor_locations(files[loc], ids)
    return SensorGraph.from_dense(adj, ids, coords=coords, crs="EPSG:4326", name=name)


def load_metr_la_graph(data_dir: str | Path | None = None) -> SensorGraph:
    """METR-LA sensor graph from ``metr_la_graph/adj_mx.pkl`` + sensor locations (no series
    needed). Directed, 207 nodes, 1,722 edges (self-loops included)."""
    return _graph(
        "metr-la", data_dir, "metr_la_graph/adj_mx.pkl", "metr_la_graph/graph_sensor_locations.csv"
    )


def load_pems_bay_graph(data_dir: str | Path | None = None) -> SensorGraph:
    """PEMS-BAY sensor graph from ``pems_bay_graph/adj_mx_bay.pkl`` + sensor locations (no
    series needed). Directed, 325 nodes, 2,694 edges (self-loops included)."""
    return _graph(
        "pems-bay",
        data_dir,
        "pems_bay_graph/adj_mx_bay.pkl",
        "pems_bay_graph/graph_sensor_locations_bay.csv",
    )


def dcrnn_series(h5: str | Path, graph: SensorGraph, name: str) -> SpatioTemporalData:
    """Speeds from a DCRNN ``.h5`` on ``graph``: zeros -> missing, gaps in the index masked.

    Shapes:
        output values: [T, N, 1] (mph), node order of ``graph``
    """
    df = read_pandas_hdf(h5)
    ids = set(df.columns)
    if ids != set(graph.node_ids):
        odd = sorted(ids ^ set(graph.node_ids))[:5]
        raise ValueError(f"{h5}: sensors differ from the graph's (e.g. {odd})")
    df = df.mask(df == 0)
    stations = node_table(graph.node_ids, graph.coords)
    return from_wide_dataframe(
        df, stations=stations, graph=graph, freq="5min", feature="speed", unit="mph", name=name
    )


@register_dataset("metr-la", "METR-LA highway speeds (DCRNN), 207 sensors, 5-min, 4 months")
def load_metr_la(data_dir: str | Path | None = None) -> SpatioTemporalData:
    """METR-LA: ``metr_la/metr-la.h5`` (not bundled; see the card) on the DCRNN graph.

    Shapes:
        values: [34272, 207, 1] (mph)
    """
    _, files = open_card("metr-la", data_dir, only=["metr_la/metr-la.h5"])
    return dcrnn_series(files["metr_la/metr-la.h5"], load_metr_la_graph(data_dir), "metr-la")


@register_dataset("pems-bay", "PEMS-BAY highway speeds (DCRNN), 325 sensors, 5-min, 6 months")
def load_pems_bay(data_dir: str | Path | None = None) -> SpatioTemporalData:
    """PEMS-BAY: ``pems_bay/pems-bay.h5`` (not bundled; see the card) on the DCRNN graph.

    Shapes:
        values: [52128, 325, 1] (mph) after regularising the 5-min grid
    """
    _, files = open_card("pems-bay", data_dir, only=["pems_bay/pems-bay.h5"])
    return dcrnn_series(files["pems_bay/pems-bay.h5"], load_pems_bay_graph(data_dir), "pems-bay")
