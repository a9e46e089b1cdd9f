"""``plot_graph``: sensors on their coordinates, edges as lines (plus arrowheads when
directed), optional value colouring."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from stgraph._atomic import atomic_path
from stgraph.graph.geo import is_geographic
from stgraph.graph.sensor_graph import SensorGraph

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_ARROW_AT = 0.6  # arrowheads sit 60 % along an edge, so the two directions of a pair show


def graph_segments(graph: SensorGraph) -> tuple[np.ndarray, np.ndarray]:
    """Line segments to draw: one per connected pair (self-loops skipped), with the pair's
    largest weight.

    Shapes:
        output: segments [S, 2, 2] ((x0, y0), (x1, y1)), weights [S]
    """
    if graph.coords is None:
        raise ValueError(f"{graph.name}: the graph has no coordinates to plot")
    ei, w = graph.edge_index.numpy(), graph.edge_weight.numpy()
    off = ei[0] != ei[1]
    lo, hi = np.minimum(ei[0], ei[1])[off], np.maximum(ei[0], ei[1])[off]
    pairs, inverse = np.unique(np.stack([lo, hi], 1), axis=0, return_inverse=True)
    weight = np.zeros(len(pairs))
    np.maximum.at(weight, inverse.reshape(-1), w[off])
    xy = graph.coords
    return np.stack([xy[pairs[:, 0]], xy[pairs[:, 1]]], axis=1), weight


def plot_graph(
    graph: SensorGraph,
    values: Any = None,
    ax: Axes | None = None,
    *,
    arrows: bool | None = None,
    node_size: float = 18.0,
    cmap: str = "viridis",
    edge_color: str = "0.55",
    arrow_color: str = "0.25",
    colorbar: bool = True,
    label: str | None = None,
    title: str | None = None,
) -> Axes:
    """Draw a sensor graph on its coordinates.

    Edges are lines whose width grows with the weight; a directed graph also gets an
    arrowhead on each directed edge, 60 % of the way from source to target (a two-way pair
    shows two opposite heads). Lon/lat axes are scaled by ``1 / cos(mean latitude)`` so the
    map is not stretched. ``values`` colour the nodes (NaN: hollow marker).

    Args:
        graph: a graph with coordinates.
        values: optional ``[N]`` node values.
        ax: axes to draw in; ``None`` creates a figure (``ax.figure``).
        arrows: draw arrowheads; ``None`` = ``graph.directed``.
        node_size: marker area (points^2).
        cmap: colormap for ``values``.
        edge_color: edge line colour.
        arrow_color: arrowhead colour.
        colorbar: add a colorbar when ``values`` are given.
        label: colorbar label.
        title: axes title (default: name, node and edge counts).

    Shapes:
        values: [N]

    Returns:
        The axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    segments, weight = graph_segments(graph)
    xy = np.asarray(graph.coords)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 6))
    assert ax is not None
    top = weight.max() if weight.size and weight.max() > 0 else 1.0
    ax.add_collection(
        LineCollection(
            list(segments), colors=edge_color, linewidths=0.4 + 1.2 * weight / top, zorder=1
        )
    )
    if graph.directed if arrows is None else arrows:
        ei = graph.edge_index.numpy()
        ei = ei[:, ei[0] != ei[1]]
        start, end = xy[ei[0]], xy[ei[1]]
        base = start + (_ARROW_AT - 0.02) * (end - start)
        step = 0.04 * (end - start)
        ax.quiver(
            base[:, 0],
            base[:, 1],
            step[:, 0],
            step[:, 1],
            angles="xy",
            scale_units="xy",
            scale=1.0,
            color=arrow_color,
            width=0.002,
            headwidth=6,
            headlength=7,
            headaxislength=6,
            zorder=2,
        )
    _draw_nodes(ax, xy, values, graph.num_nodes, node_size, cmap, colorbar, label)
    if graph.crs is not None and is_geographic(graph.crs):
        ax.set_aspect(1.0 / max(np.cos(np.radians(xy[:, 1].mean())), 1e-3))
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
    else:
        ax.set_aspect("equal")
    ax.autoscale_view()
    if title is None:
        title = f"{graph.name}: {graph.num_nodes} nodes, {graph.num_edges} edges"
    ax.set_title(title, fontsize=10)
    return ax


def _draw_nodes(
    ax: Axes,
    xy: np.ndarray,
    values: Any,
    n: int,
    size: float,
    cmap: str,
    colorbar: bool,
    label: str | None,
) -> None:
    if values is None:
        ax.scatter(
            xy[:, 0], xy[:, 1], s=size, c="tab:blue", edgecolors="k", linewidths=0.3, zorder=3
        )
        return
    v = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values, dtype=float)
    v = v.reshape(-1)
    if v.shape != (n,):
        raise ValueError(f"values must have one entry per node ({n}), got shape {v.shape}")
    ok = np.isfinite(v)
    pts = ax.scatter(
        xy[ok, 0], xy[ok, 1], s=size, c=v[ok], cmap=cmap, edgecolors="k", linewidths=0.3, zorder=3
    )
    if (~ok).any():
        ax.scatter(
            xy[~ok, 0],
            xy[~ok, 1],
            s=size,
            facecolors="none",
            edgecolors="k",
            linewidths=0.6,
            zorder=3,
        )
    if colorbar:
        from mpl_toolkits.axes_grid1 import make_axes_locatable

        cax = make_axes_locatable(ax).append_axes("right", size="3%", pad=0.08)
        ax.figure.colorbar(pts, cax=cax, label=label)  # as tall as the (aspect-fixed) map


def save_figure(fig: Figure | Any, path: str | Path, dpi: int = 150) -> Path:
    """Save a figure atomically (temporary file, then rename); the format follows the
    suffix of ``path`` (e.g. ``.png``)."""
    target = Path(path)
    fmt = target.suffix.lstrip(".") or "png"
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight")
    return target
