"""Validation of sensor-graph inputs; every error names the graph and the offending item."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from torch import Tensor


def _array(x: Any) -> np.ndarray:
    return np.asarray(x.detach().cpu() if isinstance(x, Tensor) else x)


def check_node_ids(ids: Sequence[str], name: str) -> dict[str, int]:
    """Position of every id; ``ValueError`` on a duplicate."""
    index: dict[str, int] = {}
    for i, node in enumerate(ids):
        if node in index:
            raise ValueError(
                f"{name}: duplicate node id {node!r} at positions {index[node]} and {i}"
            )
        index[node] = i
    return index


def check_edges(
    edge_index: Any, edge_weight: Any, ids: Sequence[str], name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``(edge_index int64 [2, E], edge_weight float32 [E])`` sorted by (source,
    target). Rejects bad shapes, non-integer or out-of-range indices, negative or non-finite
    weights and duplicate edges."""
    n = len(ids)
    ei = _array(edge_index)
    if ei.size == 0:
        ei = np.zeros((2, 0), dtype=np.int64)
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise ValueError(f"{name}: edge_index must have shape [2, E], got {ei.shape}")
    if not np.issubdtype(ei.dtype, np.integer):
        raise ValueError(f"{name}: edge_index must hold integers, got dtype {ei.dtype}")
    ei = ei.astype(np.int64)
    bad = np.flatnonzero((ei < 0).any(0) | (ei >= n).any(0))
    if bad.size:
        e = int(bad[0])
        raise ValueError(
            f"{name}: edge {e} = ({ei[0, e]} -> {ei[1, e]}) has a node index outside [0, {n}) "
            f"({bad.size} such edges)"
        )
    if edge_weight is None:
        ew = np.ones(ei.shape[1], dtype=np.float32)
    else:
        ew = _array(edge_weight).astype(np.float32).reshape(-1)
    if ew.shape != (ei.shape[1],):
        raise ValueError(f"{name}: edge_weight has {ew.shape[0]} entries for {ei.shape[1]} edges")
    bad = np.flatnonzero(~np.isfinite(ew) | (ew < 0))
    if bad.size:
        e = int(bad[0])
        raise ValueError(
            f"{name}: edge {ids[ei[0, e]]!r} -> {ids[ei[1, e]]!r} has weight {ew[e]}; "
            "weights must be finite and >= 0"
        )
    key = ei[0] * max(n, 1) + ei[1]
    uniq, counts = np.unique(key, return_counts=True)
    if (counts > 1).any():
        k = int(uniq[counts > 1][0])
        raise ValueError(
            f"{name}: duplicate edge {ids[k // n]!r} -> {ids[k % n]!r}; merge duplicates first "
            "(e.g. SensorGraph.from_scipy sums them)"
        )
    order = np.argsort(key, kind="stable")
    return ei[:, order], ew[order]


def check_symmetric(ei: np.ndarray, ew: np.ndarray, ids: Sequence[str], name: str) -> None:
    """``ValueError`` unless every edge has a reverse edge of equal weight."""
    n = len(ids)
    a = sp.csr_matrix((ew, (ei[0], ei[1])), shape=(n, n))
    diff = sp.coo_matrix(a - a.T)
    diff.eliminate_zeros()
    if diff.nnz:
        i, j = int(diff.row[0]), int(diff.col[0])
        raise ValueError(
            f"{name}: directed=False but edge {ids[i]!r} -> {ids[j]!r} has no reverse edge "
            "of equal weight"
        )


def check_coords(coords: Any, crs: str | None, ids: Sequence[str], name: str) -> np.ndarray:
    """Finite ``[N, 2]`` float64 coordinates with a CRS."""
    n = len(ids)
    xy = np.asarray(coords, dtype=np.float64)
    if xy.shape != (n, 2):
        raise ValueError(f"{name}: coords must have shape [N={n}, 2], got {xy.shape}")
    bad = np.flatnonzero(~np.isfinite(xy).all(1))
    if bad.size:
        raise ValueError(
            f"{name}: node {ids[int(bad[0])]!r} has non-finite coordinates {xy[bad[0]]} "
            f"({bad.size} such nodes)"
        )
    if crs is None:
        raise ValueError(f"{name}: coords given without a CRS (e.g. crs='EPSG:4326')")
    return xy
