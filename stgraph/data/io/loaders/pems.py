"""PEMS03/04/07/08 (ASTGCN / STSGCN releases) and PeMSD7(M) (STGCN release).

PEMS0X: ``PEMS0X.npz`` (key ``data``, ``[T, N, F]``: flow, or flow/occupancy/speed) plus an
edge list ``from,to,cost`` of road distances (PEMS03 names detector ids, listed in node order
in ``PEMS03.txt``). PeMSD7(M): ``PeMSD7_V_228.csv`` (speeds, weekdays only) plus the
``PeMSD7_W_228.csv`` distance matrix and station metadata.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from stgraph.data.frames import to_regular_grid
from stgraph.data.io.loaders._common import build_dataset, node_table, open_card
from stgraph.data.io.readers import read_csv, read_npz, read_numeric_matrix, to_numeric
from stgraph.data.io.registry import register_dataset
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.graph import SensorGraph, build
from stgraph.graph.io import read_sensor_ids


def read_pems_npz(path: Path) -> np.ndarray:
    """Series of a PEMS0X ``.npz`` (key ``data``).

    Shapes:
        output: [T, N, F] float64 (F = 1 for PEMS03/07, 3 for PEMS04/08)
    """
    data = read_npz(path, ["data"])["data"]
    if data.ndim != 3 or not np.issubdtype(data.dtype, np.number):
        raise ValueError(f"{path}: 'data' must be a numeric [T, N, F] array, got {data.shape}")
    return data.astype(np.float64)


def pems_graph(
    path: Path, num_nodes: int, id_file: Path | None = None, weights: str = "ones", name: str = ""
) -> SensorGraph:
    """Undirected road graph from a PEMS0X ``from,to,cost`` list (the ``distance-table``
    builder of :mod:`stgraph.graph`, every row read as an undirected link).

    Args:
        path: the CSV (node indices 0..N-1, or detector ids when ``id_file`` is given).
        num_nodes: ``N``, the series' node count.
        id_file: detector ids in node order (line i = node i), e.g. ``PEMS03.txt``; they become
            the node ids (else ``"0".."N-1"``).
        weights: ``"ones"`` (binary, as ASTGCN/STSGCN use it) or ``"gaussian"``
            (``exp(-d^2/sigma^2)``, sigma = std of the costs, weights < 0.1 dropped).
        name: graph name.

    Shapes:
        output: SensorGraph with N nodes; a pair listed twice keeps its shortest cost
    """
    ids = [str(i) for i in range(num_nodes)] if id_file is None else read_sensor_ids(id_file)
    if len(ids) != num_nodes:
        raise ValueError(f"{id_file}: {len(ids)} ids for {num_nodes} nodes")
    if weights not in ("ones", "gaussian"):
        raise ValueError(f"weights must be 'ones' or 'gaussian', got {weights!r}")
    return build("distance-table", path, ids, weight=weights, symmetric=True, duplicates="min",
                 name=name)  # fmt: skip


def _pems(
    name: str, data_dir: str | Path | None, weights: str, id_file: bool = False
) -> SpatioTemporalData:
    card, files = open_card(name, data_dir)
    code = name.upper().replace("-", "")
    data = read_pems_npz(files[f"{name}/{code}.npz"])
    ids_path = files[f"pems_distances/{code}.txt"] if id_file else None
    graph = pems_graph(files[f"pems_distances/{code}.csv"], data.shape[1], ids_path, weights, name)
    features = card["features"][: data.shape[2]]
    if len(features) != data.shape[2]:
        raise ValueError(f"{name}: {data.shape[2]} features, the card names {card['features']}")
    return build_dataset(card, data, graph, features=features, units=card["units"][: data.shape[2]])


@register_dataset("pems03", "PEMS03 traffic flow (STSGCN), 358 detectors, 5-min, 91 days")
def load_pems03(data_dir: str | Path | None = None, weights: str = "ones") -> SpatioTemporalData:
    """PEMS03: ``pems03/PEMS03.npz`` (not bundled) + ``PEMS03.csv``/``PEMS03.txt``.

    Shapes:
        values: [26208, 358, 1] (vehicles per 5 min)
    """
    return _pems("pems03", data_dir, weights, id_file=True)


@register_dataset("pems04", "PEMS04 flow/occupancy/speed (ASTGCN), 307 detectors, 5-min, 59 days")
def load_pems04(data_dir: str | Path | None = None, weights: str = "ones") -> SpatioTemporalData:
    """PEMS04: ``pems04/PEMS04.npz`` (not bundled) + ``PEMS04.csv``.

    Shapes:
        values: [16992, 307, 3]
    """
    return _pems("pems04", data_dir, weights)


@register_dataset("pems07", "PEMS07 traffic flow (STSGCN), 883 detectors, 5-min, 98 days")
def load_pems07(data_dir: str | Path | None = None, weights: str = "ones") -> SpatioTemporalData:
    """PEMS07: ``pems07/PEMS07.npz`` (not bundled) + ``PEMS07.csv``.

    Shapes:
        values: [28224, 883, 1]
    """
    return _pems("pems07", data_dir, weights)


@register_dataset("pems08", "PEMS08 flow/occupancy/speed (ASTGCN), 170 detectors, 5-min, 62 days")
def load_pems08(data_dir: str | Path | None = None, weights: str = "ones") -> SpatioTemporalData:
    """PEMS08: ``pems08/PEMS08.npz`` (not bundled) + ``PEMS08.csv``.

    Shapes:
        values: [17856, 170, 3]
    """
    return _pems("pems08", data_dir, weights)


# ---------------------------------------------------------------------------- PeMSD7(M)
def stgcn_graph(dist: np.ndarray, ids: list[str], coords: np.ndarray) -> SensorGraph:
    r"""STGCN's PeMSD7 graph: :math:`W_{ij} = \exp(-(d_{ij}/10^4)^2 / 0.1)` where
    :math:`\ge 0.5`, no self-loops (Yu et al., IJCAI 2018), i.e. the ``distance-matrix``
    builder with ``sigma = 10^4 \sqrt{0.1}``, ``kappa = 0.5``.

    Shapes:
        dist: [N, N] metres -> SensorGraph with N nodes, coords [N, 2] (lon, lat)
    """
    return build("distance-matrix", dist, ids, sigma=1e4 * np.sqrt(0.1), kappa=0.5,
                 coords=coords, name="pemsd7m")  # fmt: skip


@register_dataset("pemsd7m", "PeMSD7(M) highway speeds (STGCN), 228 stations, 5-min, weekdays")
def load_pemsd7m(data_dir: str | Path | None = None) -> SpatioTemporalData:
    """PeMSD7(M): speeds on the 44 weekdays of May-June 2012 (288 slots a day) placed on the
    calendar 5-min grid; weekend slots are masked (STGCN never crosses a day boundary).

    Shapes:
        values: [17280, 228, 1] (mph; 2012-05-01 to 2012-06-29, the 16 weekend days masked)
    """
    card, files = open_card("pemsd7m", data_dir)
    v_path = files["pemsd7m/PeMSD7_V_228.csv"]
    _, speed = read_numeric_matrix(v_path, header=False)
    _, dist = read_numeric_matrix(files["pemsd7m/PeMSD7_W_228.csv"], header=False)
    info_path = files["pemsd7m/PeMSD7_M_Station_Info.csv"]
    info = read_csv(info_path, columns=("ID", "Latitude", "Longitude"))
    n = len(info)
    if dist.shape != (n, n) or speed.shape[1] != n or speed.shape[0] % 288:
        raise ValueError(
            f"{v_path}: speeds {speed.shape}, distances {dist.shape}, {n} stations: expected "
            f"[days*288, {n}] speeds and a {n}x{n} distance matrix"
        )
    days = pd.bdate_range(card["start"], periods=speed.shape[0] // 288)
    times = days.to_numpy()[:, None] + pd.timedelta_range(0, periods=288, freq="5min").to_numpy()
    grid, values = to_regular_grid(pd.DatetimeIndex(times.ravel()), speed, "5min")
    coords = to_numeric(info[["Longitude", "Latitude"]], info_path, missing=(), first_row=2)
    ids = info["ID"].str.strip().tolist()
    graph = stgcn_graph(dist, ids, coords)
    return build_dataset(
        card,
        values[..., None],
        graph,
        timestamps=grid,
        nodes=node_table(
            ids, coords, freeway=info["Fwy"].to_numpy(), direction=info["Dir"].to_numpy()
        ),
    )
