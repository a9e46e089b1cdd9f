r"""Graphs from pairwise distances: ``from, to, cost`` tables, as released with DCRNN
(``distances_bay_2017.csv``) and ASTGCN/STSGCN (``PEMS0X.csv``), and dense distance matrices
(STGCN's ``PeMSD7_W_228.csv``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from stgraph.graph.builders._common import finalize
from stgraph.graph.builders._inputs import unique_ids
from stgraph.graph.builders.registry import register_builder
from stgraph.graph.geo import check_coords, is_geographic
from stgraph.graph.io import check_distance_table, read_distance_table, select_known
from stgraph.graph.kernels import Weighting, edge_weights, gaussian_kernel
from stgraph.graph.sensor_graph import SensorGraph

Duplicates = Literal["equal", "min", "max", "mean", "first"]


def _merge_repeats(table: pd.DataFrame, duplicates: Duplicates) -> pd.DataFrame:
    """One row per ordered ``(from, to)`` pair. ``"equal"`` merges repeats with the same cost
    and refuses conflicting ones, naming the pair; the others reduce the costs."""
    groups = table.groupby(["from", "to"], sort=False)["cost"]
    if duplicates == "equal":
        spread = groups.agg(lambda c: c.max() - c.min())
        if (spread > 0).any():
            a, b = spread[spread > 0].index[0]
            costs = table.loc[(table["from"] == a) & (table["to"] == b), "cost"].tolist()
            raise ValueError(
                f"pair {a!r} -> {b!r} is listed with different costs {costs}; choose "
                "duplicates='min', 'max', 'mean' or 'first'"
            )
        duplicates = "first"
    if duplicates not in ("min", "max", "mean", "first"):
        raise ValueError(
            f"duplicates must be 'equal', 'min', 'max', 'mean' or 'first', got {duplicates!r}"
        )
    return groups.agg(duplicates).reset_index()


def _table_coords(
    coords: Any, crs: str | None, ids: tuple[str, ...]
) -> tuple[np.ndarray | None, str | None]:
    if coords is None:
        return None, None
    crs = "EPSG:4326" if crs is None else crs
    return check_coords(coords, ids, geographic=is_geographic(crs), what="sensor"), crs


@register_builder("distance-table", "a from,to,cost table (DCRNN / ASTGCN distance files)")
def distance_table_graph(
    table: pd.DataFrame | str | Path,
    ids: Sequence[Any],
    *,
    weight: Weighting = "gaussian",
    sigma: float | None = None,
    kappa: float = 0.1,
    symmetric: bool = False,
    duplicates: Duplicates = "equal",
    unknown: str = "error",
    coords: Any = None,
    crs: str | None = None,
    name: str = "distance-table",
) -> SensorGraph:
    r"""Graph from a pairwise distance table.

    Each row ``(from, to, cost)`` is a candidate edge ``from -> to`` with length ``cost``.
    ``weight="gaussian"`` is the DCRNN recipe (Li et al., ICLR 2018, sec. 4.1):
    :math:`W_{ij} = \exp(-d_{ij}^2/\sigma^2)`, :math:`\sigma` = std of the listed costs (after
    merging repeats, self-pairs included), weights below ``kappa`` dropped. ``"ones"`` gives
    ASTGCN's 0/1 connectivity matrix and ``"inverse"`` its ``1/d`` matrix (Guo et al., AAAI
    2019); ``kappa`` applies to the Gaussian only. Self-pairs are kept as listed (DCRNN tables
    list every sensor with distance 0, giving the unit diagonal).

    Args:
        table: DataFrame with columns ``from, to, cost`` (or any three columns in that order)
            or a CSV path (read with :func:`stgraph.graph.io.read_distance_table`).
        ids: node ids in node order; table endpoints are matched as strings (for tables of
            node indices, ``ids=range(N)``).
        weight: ``"gaussian"``, ``"ones"``, ``"inverse"`` or ``"distance"``.
        sigma: Gaussian width in cost units; ``None`` = std of the costs.
        kappa: Gaussian threshold.
        symmetric: ``True`` reads every row as an undirected link; a pair listed both ways
            keeps the smaller cost. ``False`` keeps the table's directions.
        duplicates: repeated ``(from, to)`` rows: ``"equal"`` merges repeats of equal cost and
            raises on conflicting ones; ``"min"``, ``"max"``, ``"mean"``, ``"first"`` reduce.
        unknown: rows naming an id outside ``ids``: ``"error"`` or ``"drop"``.
        coords: optional ``[N, 2]`` ``(lon, lat)`` (or ``(x, y)`` in ``crs``) per id.
        crs: CRS of ``coords`` (default ``"EPSG:4326"``).
        name: graph name.

    Shapes:
        table: [R, 3] -> graph with N = len(ids) nodes
    """
    node_ids = unique_ids(ids, "sensor")
    if isinstance(table, (str, Path)):
        table = read_distance_table(table)
    else:
        table = check_distance_table(table)
    table = _merge_repeats(select_known(table, node_ids, unknown), duplicates)
    if symmetric:
        flipped = table.rename(columns={"from": "to", "to": "from"})
        table = _merge_repeats(pd.concat([table, flipped], ignore_index=True), "min")
    index = {v: i for i, v in enumerate(node_ids)}
    src = table["from"].map(index).to_numpy(dtype=np.int64)
    dst = table["to"].map(index).to_numpy(dtype=np.int64)
    dist = table["cost"].to_numpy(dtype=np.float64)
    if weight == "gaussian" and sigma is None:
        sigma = float(dist.std()) if dist.size else 1.0
    w = edge_weights(dist, weight, sigma)
    keep = w >= kappa if weight == "gaussian" else np.ones(len(w), dtype=bool)
    xy, crs = _table_coords(coords, crs, node_ids)
    graph = SensorGraph(
        node_ids,
        np.vstack([src[keep], dst[keep]]),
        w[keep],
        coords=xy,
        crs=crs,
        directed=not symmetric,
        name=name,
    )
    return finalize(graph)


@register_builder("distance-matrix", "a dense N x N distance matrix (inf = unknown) + Gaussian")
def distance_matrix_graph(
    dist: Any,
    ids: Sequence[Any] | None = None,
    *,
    sigma: float | None = None,
    kappa: float = 0.1,
    self_loops: bool = False,
    coords: Any = None,
    crs: str | None = None,
    name: str = "distance-matrix",
) -> SensorGraph:
    r"""Graph from a dense distance matrix with the thresholded Gaussian kernel
    (:func:`stgraph.graph.kernels.gaussian_kernel`).

    .. math::
        W_{ij} = \exp(-d_{ij}^2/\sigma^2) \text{ if } \ge \kappa \text{ else } 0

    ``sigma=None`` is DCRNN's std of the finite entries. STGCN's PeMSD7 recipe (Yu et al.,
    IJCAI 2018, data preprocessing: :math:`\exp(-(d/10^4)^2/0.1) \ge 0.5`, no diagonal) is
    ``sigma=10000 * sqrt(0.1)``, ``kappa=0.5``. The graph is undirected when the weights
    are symmetric.

    Args:
        dist: ``[N, N]`` distances, ``dist[i, j]`` from ``i`` to ``j``; ``inf`` = unknown.
        ids: node ids (default ``0..N-1``).
        sigma: kernel width (distance units); ``None`` = std of the finite distances.
        kappa: threshold in ``(0, 1)``.
        self_loops: keep the unit diagonal.
        coords, crs: optional node coordinates and their CRS (default ``"EPSG:4326"``).
        name: graph name.

    Shapes:
        dist: [N, N] -> graph with N nodes
    """
    if not 0 < kappa < 1:
        raise ValueError(f"kappa must be in (0, 1), got {kappa}")
    w = gaussian_kernel(np.asarray(dist, dtype=np.float64), sigma=sigma, kappa=kappa)
    if not self_loops:
        np.fill_diagonal(w, 0.0)
    node_ids = unique_ids(range(len(w)) if ids is None else ids, "sensor")
    if len(node_ids) != len(w):
        raise ValueError(f"{len(node_ids)} ids for a {len(w)}x{len(w)} distance matrix")
    xy, crs = _table_coords(coords, crs, node_ids)
    return finalize(SensorGraph.from_dense(w, node_ids, coords=xy, crs=crs, name=name))
