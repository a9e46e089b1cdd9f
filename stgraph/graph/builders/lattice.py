r"""Regular grids as graphs: lattice builder, Conv2d offset types, grid <-> node reshapes.

A grid of ``H x W`` cells becomes a graph with one node per kept cell (row-major order, id
``"r{row}_c{col}"``) and an edge between cells that are 4- or 8-neighbours. Every edge has an
*offset* ``(dr, dc) = pos(source) - pos(target)``; :func:`lattice_offsets` numbers them in the
order of a 3x3 ``torch.nn.Conv2d`` kernel, ``type = 3 (dr + 1) + (dc + 1)`` (the centre, type
:data:`CENTRE` = 4, is the cell itself), so a typed-edge layer
(:class:`stgraph.nn.spatial.lattice.LatticeConv`) computes exactly a zero-padded 3x3 convolution.
Masked cells (``mask=True``, e.g. land in a sea-surface field) are dropped and behave like zero
padding.
"""

from __future__ import annotations

import re
from typing import Any, overload

import numpy as np
import torch
from torch import Tensor

from stgraph.graph.builders._common import finalize
from stgraph.graph.builders.registry import register_builder
from stgraph.graph.geo import GRID_CRS, check_coords
from stgraph.graph.sensor_graph import SensorGraph

CENTRE = 4
"""Edge type of the centre offset ``(0, 0)`` (a cell's own value)."""

OFFSETS: tuple[tuple[int, int], ...] = tuple((dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1))
"""The nine ``(dr, dc)`` offsets in Conv2d kernel order: ``OFFSETS[t]`` is kernel entry
``weight[:, :, dr + 1, dc + 1]``."""

_ROOK = ((-1, 0), (0, -1), (0, 1), (1, 0))
_QUEEN = tuple(o for o in OFFSETS if o != (0, 0))
_ID = re.compile(r"^r(\d+)_c(\d+)$")


def _grid_axes(
    shape: tuple[int, int] | None, lat: Any, lon: Any
) -> tuple[tuple[int, int], np.ndarray | None]:
    """Resolve the grid shape and, when given, the per-cell ``(lon, lat)`` ``[H, W, 2]``."""
    if (lat is None) != (lon is None):
        raise ValueError("give both lat and lon, or neither")
    if lat is None:
        if shape is None:
            raise ValueError("lattice_graph needs shape=(H, W) or lat/lon arrays")
        h, w = (int(s) for s in shape)
        if h < 1 or w < 1:
            raise ValueError(f"grid shape must be positive, got {shape}")
        return (h, w), None
    la, lo = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    if la.ndim == 1 and lo.ndim == 1:
        la, lo = np.meshgrid(la, lo, indexing="ij")
    if la.ndim != 2 or la.shape != lo.shape:
        raise ValueError(
            f"lat/lon must be 1-D [H] and [W] or both 2-D [H, W]; got {la.shape} and {lo.shape}"
        )
    if shape is not None and tuple(shape) != la.shape:
        raise ValueError(f"shape={tuple(shape)} disagrees with lat/lon grid {la.shape}")
    return (la.shape[0], la.shape[1]), np.stack([lo, la], axis=-1)


def _keep(mask: Any, shape: tuple[int, int]) -> np.ndarray:
    """Boolean ``[H, W]`` of kept cells from ``mask`` (True = drop)."""
    if mask is None:
        return np.ones(shape, dtype=bool)
    m = np.asarray(mask.cpu() if isinstance(mask, Tensor) else mask)
    if m.dtype != np.bool_:
        raise ValueError(f"mask must be a bool array (True = drop the cell), got dtype {m.dtype}")
    if m.shape != shape:
        raise ValueError(f"mask has shape {m.shape}, expected the grid shape {shape}")
    return ~m


@register_builder("lattice", "regular grid cells, 4- or 8-neighbour, optional land/sea mask")
def lattice_graph(
    shape: tuple[int, int] | None = None,
    *,
    lat: Any = None,
    lon: Any = None,
    neighbours: int = 4,
    mask: Any = None,
    name: str = "lattice",
) -> SensorGraph:
    r"""Lattice graph of a regular (or curvilinear) grid.

    Nodes are the kept cells in row-major order with ids ``"r{row}_c{col}"``; two kept cells
    are joined (both directions, weight 1) when they are 4-neighbours (rook) or, with
    ``neighbours=8``, 8-neighbours (queen). Isolated kept cells raise an
    :class:`~stgraph.graph.IsolatedNodesWarning`.

    Coordinates: ``(lon, lat)`` in ``"EPSG:4326"`` when ``lat``/``lon`` are given; otherwise
    ``(col, row)`` cell indices with the placeholder CRS :data:`stgraph.graph.geo.GRID_CRS`
    (``"stgraph:grid-index"``, unitless, planar).

    Args:
        shape: ``(H, W)``; optional when ``lat``/``lon`` are given.
        lat: latitudes, 1-D ``[H]`` (with 1-D ``lon`` ``[W]``) or 2-D ``[H, W]``.
        lon: longitudes (degrees east), same form as ``lat``; kept as given (e.g. 124..290).
        neighbours: 4 or 8.
        mask: bool ``[H, W]``, ``True`` = drop the cell (e.g. land).
        name: graph name.

    Shapes:
        output: N = number of kept cells, E = 2 x (neighbouring kept pairs)
    """
    if neighbours not in (4, 8):
        raise ValueError(f"neighbours must be 4 or 8, got {neighbours}")
    (h, w), lonlat = _grid_axes(shape, lat, lon)
    keep = _keep(mask, (h, w))
    pos = np.full((h, w), -1, dtype=np.int64)
    pos[keep] = np.arange(int(keep.sum()))
    rows, cols = np.nonzero(keep)
    src_parts, dst_parts = [], []
    for dr, dc in _ROOK if neighbours == 4 else _QUEEN:
        r_src, c_src = rows + dr, cols + dc
        inside = (r_src >= 0) & (r_src < h) & (c_src >= 0) & (c_src < w)
        src = np.full(rows.shape, -1, dtype=np.int64)
        src[inside] = pos[r_src[inside], c_src[inside]]
        ok = src >= 0
        src_parts.append(src[ok])
        dst_parts.append(pos[rows[ok], cols[ok]])
    ids = [f"r{r}_c{c}" for r, c in zip(rows.tolist(), cols.tolist(), strict=True)]
    if lonlat is None:
        xy, crs = np.column_stack([cols, rows]).astype(np.float64), GRID_CRS
    else:
        xy, crs = check_coords(lonlat[keep], ids, geographic=True, what="cell"), "EPSG:4326"
    ei = np.vstack([np.concatenate(src_parts), np.concatenate(dst_parts)])
    return finalize(SensorGraph(ids, ei, coords=xy, crs=crs, directed=False, name=name))


def lattice_positions(graph: SensorGraph) -> np.ndarray:
    """``(row, col)`` of every node, parsed from the lattice ids ``"r{row}_c{col}"``.

    Shapes:
        output: [N, 2] int64
    """
    out = np.empty((graph.num_nodes, 2), dtype=np.int64)
    for i, node in enumerate(graph.node_ids):
        m = _ID.match(node)
        if m is None:
            raise ValueError(
                f"{graph.name}: node {node!r} is not a lattice cell id; expected 'r<row>_c<col>'"
            )
        out[i] = int(m.group(1)), int(m.group(2))
    return out


def lattice_offsets(graph: SensorGraph) -> Tensor:
    """Edge types of a lattice graph for :class:`stgraph.nn.spatial.lattice.LatticeConv`.

    ``type[e] = 3 (dr + 1) + (dc + 1)`` with ``(dr, dc) = pos(source) - pos(target)``, aligned
    with ``graph.edge_index``; the kernel entry ``conv.weight[:, :, dr + 1, dc + 1]`` of a
    3x3 ``Conv2d`` acts along edge type ``type``. Self-loops (the centre, type
    :data:`CENTRE`) are not edges: the layer applies the centre weight to every node itself.

    Args:
        graph: a graph from :func:`lattice_graph` (or any subgraph of one).

    Shapes:
        output: [E] int64 in {0..8} minus {4}

    Raises:
        ValueError: a node id is not ``"r{row}_c{col}"``, or an edge joins cells that are not
            distinct 8-neighbours.
    """
    rc = lattice_positions(graph)
    ei = graph.edge_index.numpy()
    d = rc[ei[0]] - rc[ei[1]]
    bad = np.flatnonzero((np.abs(d) > 1).any(1) | (d == 0).all(1))
    if bad.size:
        e = int(bad[0])
        s, t = graph.node_ids[ei[0, e]], graph.node_ids[ei[1, e]]
        raise ValueError(
            f"{graph.name}: edge {s!r} -> {t!r} has offset {tuple(d[e].tolist())}; expected "
            "distinct cells at most one row and one column apart"
        )
    return torch.from_numpy(3 * (d[:, 0] + 1) + (d[:, 1] + 1))


def _as_array(values: Any) -> Any:
    return values if isinstance(values, Tensor) else np.asarray(values)


@overload
def grid_to_nodes(values: Tensor, mask: Any = None) -> Tensor: ...
@overload
def grid_to_nodes(values: np.ndarray, mask: Any = None) -> np.ndarray: ...
def grid_to_nodes(values: np.ndarray | Tensor, mask: Any = None) -> np.ndarray | Tensor:
    """Flatten gridded values to node values over the kept cells, in lattice node order.

    Args:
        values: ``[T, H, W, F]`` or ``[T, H, W]`` (taken as ``F = 1``); NumPy or torch.
        mask: bool ``[H, W]``, ``True`` = dropped cell (as in :func:`lattice_graph`).

    Shapes:
        values: [T, H, W, F] (or [T, H, W]) -> [T, N, F], N = kept cells
    """
    v = _as_array(values)
    if v.ndim == 3:
        v = v[..., None]
    if v.ndim != 4:
        raise ValueError(f"grid values must be [T, H, W, F] or [T, H, W], got {tuple(v.shape)}")
    t, h, w, f = v.shape
    keep = _keep(mask, (h, w)).reshape(-1)
    flat = v.reshape(t, h * w, f)
    if isinstance(flat, Tensor):
        return flat[:, torch.from_numpy(keep).to(flat.device)]
    return flat[:, keep]


@overload
def nodes_to_grid(
    values: Tensor, mask: Any = None, shape: tuple[int, int] | None = None, fill: float = 0.0
) -> Tensor: ...
@overload
def nodes_to_grid(
    values: np.ndarray, mask: Any = None, shape: tuple[int, int] | None = None, fill: float = 0.0
) -> np.ndarray: ...
def nodes_to_grid(
    values: np.ndarray | Tensor,
    mask: Any = None,
    shape: tuple[int, int] | None = None,
    fill: float = 0.0,
) -> np.ndarray | Tensor:
    """Inverse of :func:`grid_to_nodes`: scatter node values back onto the grid.

    Args:
        values: ``[T, N, F]`` node values (NumPy or torch; torch keeps gradients).
        mask: bool ``[H, W]`` (``True`` = dropped cell); its shape is the grid shape.
        shape: ``(H, W)`` when ``mask`` is ``None`` (then ``N = H W``).
        fill: value written into dropped cells.

    Shapes:
        values: [T, N, F] -> [T, H, W, F]
    """
    v = _as_array(values)
    if v.ndim != 3:
        raise ValueError(f"node values must be [T, N, F], got {tuple(v.shape)}")
    if mask is not None:
        h, w = np.shape(mask)
        if shape is not None and tuple(shape) != (h, w):
            raise ValueError(f"shape={tuple(shape)} disagrees with mask shape {(h, w)}")
    elif shape is not None:
        h, w = int(shape[0]), int(shape[1])
    else:
        raise ValueError("nodes_to_grid needs the grid: pass mask=[H, W] or shape=(H, W)")
    keep = _keep(mask, (h, w)).reshape(-1)
    t, n, f = v.shape
    if n != int(keep.sum()):
        raise ValueError(f"{n} nodes for a grid with {int(keep.sum())} kept cells")
    if isinstance(v, Tensor):
        out = v.new_full((t, h * w, f), fill)
        out[:, torch.from_numpy(keep).to(v.device)] = v
        return out.reshape(t, h, w, f)
    out_np = np.full((t, h * w, f), fill, dtype=v.dtype)
    out_np[:, keep] = v
    return out_np.reshape(t, h, w, f)
