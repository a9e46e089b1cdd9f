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
from stgraph.data.loaders._common import build_dataset, node_table, open_card
from stgraph.data.loaders.dcrnn import read_distances
from stgraph.data.readers import read_csv, read_npz, read_numeric_matrix, to_numeric
from stgraph.data.registry import register_dataset
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.graph import SensorGraph


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
    path: Path, ids: list[str], id_file: Path | None = None, weights: str = "binary", name: str = ""
) -> SensorGraph:
    """Undirected road graph from a PEMS0X edge list.

    Args:
        path: ``from,to,cost`` CSV (node indices, or detector ids when ``id_file`` is given).
        ids: node ids in series order.
        id_file: one detector id per line (line i = node i), e.g. ``PEMS03.txt``.
        weights: ``"binary"`` (1 per link, as ASTGCN/STSGCN use it) or ``"gaussian"``
            (``exp(-d^2/sigma^2)``, sigma = std of the listed distances).
        name: graph name.

    Shapes:
        output: SensorGraph with len(ids) nodes; repeated links keep the shortest distance
    """
    edges = read_distances(path)
    if id_file is not None:
        lines = [s.strip() for s in id_file.read_text().split() if s.strip()]
        if len(lines) != len(ids):
            raise ValueError(f"{id_file}: {len(lines)} ids for {len(ids)} nodes")
        pos = {s: i for i, s in enumerate(lines)}
    else:
        pos = {str(i): i for i in range(len(ids))}
    unknown = sorted((set(edges["from"]) | set(edges["to"])) - set(pos))
    if unknown:
        raise ValueError(f"{path}: links name unknown nodes {unknown[:5]}")
    i, j = edges["from"].map(pos).to_numpy(), edges["to"].map(pos).to_numpy()
    d = np.full((len(ids), len(ids)), np.inf)
    np.minimum.at(d, (i, j), edges["distance"].to_numpy())
    d = np.minimum(d, d.T)
    if weights == "binary":
        w = np.isfinite(d).astype(np.float64)
    elif weights == "gaussian":
        sigma = float(edges["distance"].std()) or 1.0
        w = np.where(np.isfinite(d), np.exp(-np.square(np.where(np.isfinite(d), d, 0) / sigma)), 0)
        w[np.isfinite(d) & (w == 0)] = np.finfo(np.float32).tiny
    else:
        raise ValueError(f"weights must be 'binary' or 'gaussian', got {weights!r}")
    return SensorGraph.from_dense(w, ids, directed=False, name=name)


def _pems(
    name: str, data_dir: str | Path | None, weights: str, id_file: bool = False
) -> SpatioTemporalData:
    card, files = open_card(name, data_dir)
    code = name.upper().replace("-", "")
    data = read_pems_npz(files[f"{name}/{code}.npz"])
    ids = [str(i) for i in range(data.shape[1])]
    ids_path = files[f"pems_distances/{code}.txt"] if id_file else None
    graph = pems_graph(files[f"pems_distances/{code}.csv"], ids, ids_path, weights, name)
    features = card["features"][: data.shape[2]]
    if len(features) != data.shape[2]:
        raise ValueError(f"{name}: {data.shape[2]} features, the card names {card['features']}")
    return build_dataset(card, data, graph, features=features, units=card["units"][: data.shape[2]])


@register_dataset("pems03", "PEMS03 traffic flow (STSGCN), 358 detectors, 5-min, 91 days")
def load_pems03(data_dir: str | Path | None = None, weights: str = "binary") -> SpatioTemporalData:
    """PEMS03: ``pems03/PEMS03.npz`` (not bundled) + ``PEMS03.csv``/``PEMS03.txt``.

    Shapes:
        values: [26208, 358, 1] (vehicles per 5 min)
    """
    return _pems("pems03", data_dir, weights, id_file=True)


@register_dataset("pems04", "PEMS04 flow/occupancy/speed (ASTGCN), 307 detectors, 5-min, 59 days")
def load_pems04(data_dir: str | Path | None = None, weights: str = "binary") -> SpatioTemporalData:
    """PEMS04: ``pems04/PEMS04.npz`` (not bundled) + ``PEMS04.csv``.

    Shapes:
        values: [16992, 307, 3]
    """
    return _pems("pems04", data_dir, weights)


@register_dataset("pems07", "PEMS07 traffic flow (STSGCN), 883 detectors, 5-min, 98 days")
def load_pems07(data_dir: str | Path | None = None, weights: str = "binary") -> SpatioTemporalData:
    """PEMS07: ``pems07/PEMS07.npz`` (not bundled) + ``PEMS07.csv``.

    Shapes:
        values: [28224, 883, 1]
    """
    return _pems("pems07", data_dir, weights)


@register_dataset("pems08", "PEMS08 flow/occupancy/speed (ASTGCN), 170 detectors, 5-min, 62 days")
def load_pems08(data_dir: str | Path | None = None, weights: str = "binary") -> SpatioTemporalData:
    """PEMS08: ``pems08/PEMS08.npz`` (not bundled) + ``PEMS08.csv``.

    Shapes:
        values: [17856, 170, 3]
    """
    return _pems("pems08", data_dir, weights)


# ---------------------------------------------------------------------------- PeMSD7(M)
def stgcn_weights(
    dist: np.ndarray, scaling: float = 10000.0, sigma2: float = 0.1, epsilon: float = 0.5
) -> np.ndarray:
    r"""STGCN's kernel: :math:`W_{ij} = \exp(-(d_{ij}/10^4)^2 / 0.1)` where
    :math:`\ge 0.5`, no self-loops (Yu et al., IJCAI 2018, eq. 10).

    Shapes:
        dist: [N, N] metres -> [N, N]
    """
    w = np.exp(-np.square(dist / scaling) / sigma2)
    w[(w < epsilon) | np.eye(len(w), dtype=bool)] = 0.0
    return w


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
    graph = SensorGraph.from_dense(
        stgcn_weights(dist), ids, directed=False, coords=coords, crs="EPSG:4326", name="pemsd7m"
    )
    return build_dataset(
        card,
        values[..., None],
        graph,
        timestamps=grid,
        nodes=node_table(
            ids, coords, freeway=info["Fwy"].to_numpy(), direction=info["Dir"].to_numpy()
        ),
    )
