"""Error plots: MAE / RMSE by horizon step for the model and every baseline
(:func:`plot_horizon_errors`), and the sensors coloured by their error
(:func:`plot_error_map`: a map on the graph's coordinates, or an image for a lattice)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from stgraph.data.calendar import horizon_label
from stgraph.engine.inputs import is_lattice
from stgraph.graph.geo import is_geographic
from stgraph.graph.lattice import lattice_positions
from stgraph.graph.sensor_graph import SensorGraph
from stgraph.viz.forecast import new_figure
from stgraph.viz.graph import plot_graph

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PER_STEP = (("mae", "MAE"), ("rmse", "RMSE"))


def methods_of(metrics: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The model's and every baseline's results from a ``metrics.json`` object:
    ``{model name: {"overall", "horizons"}, baseline: {...}, ...}`` (the model first)."""
    try:
        model = {"overall": metrics["overall"], "horizons": metrics["horizons"]}
        return {str(metrics["model"]): model, **dict(metrics.get("baselines", {}))}
    except (KeyError, TypeError) as e:
        raise ValueError(f"metrics: missing {e} (expected the layout of metrics.json)") from None


def plot_horizon_errors(
    results: Mapping[str, Mapping[str, Any]],
    freq: Any = None,
    *,
    title: str | None = None,
) -> Figure:
    """MAE and RMSE at every forecast step, one line per method (the first, the model,
    drawn bold), steps labelled in real time (``"15m"``, ``"1h"``, see
    :func:`stgraph.data.calendar.horizon_label`).

    Args:
        results: ``{method: {"horizons": {"1": {"mae", "rmse", ...}, ...}}}`` (the layout of
            ``metrics.json``; see :func:`methods_of`).
        freq: the series' step (pandas offset or string); ``None`` labels steps ``@k``.
        title: figure title.

    Returns:
        The figure.
    """
    if not results:
        raise ValueError("plot_horizon_errors: no methods to plot")
    fig, axes = new_figure(1, 2, size=(11, 3.8))
    for i, (name, res) in enumerate(results.items()):
        try:
            steps = sorted(int(k) for k in res["horizons"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"method {name!r}: expected a 'horizons' dict keyed by step") from None
        style = {"lw": 2.4, "marker": "o", "zorder": 3} if i == 0 else {"lw": 1.2, "marker": "."}
        for ax, (metric, label) in zip(axes, PER_STEP, strict=True):
            values = [res["horizons"][str(k)].get(metric) for k in steps]
            y = np.array([np.nan if v is None else v for v in values], dtype=float)
            ax.plot(steps, y, label=name, color=f"C{i}", **style)
            ax.set_ylabel(label)
    labels_of = [int(k) for k in next(iter(results.values()))["horizons"]]
    ticks = _thin(sorted(labels_of))
    for ax, (_, label) in zip(axes, PER_STEP, strict=True):
        ax.set_xticks(ticks, [horizon_label(freq, k) for k in ticks])
        ax.set_xlabel("forecast horizon")
        ax.set_title(f"{label} by horizon", fontsize=10)
        ax.grid(alpha=0.25)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def _thin(steps: list[int], most: int = 12) -> list[int]:
    """At most ``most`` evenly spaced ticks, always with the first and last step."""
    if len(steps) <= most:
        return steps
    keep = np.unique(np.linspace(0, len(steps) - 1, most).round().astype(int))
    return [steps[i] for i in keep]


def lattice_image(graph: SensorGraph, values: Any) -> np.ndarray:
    """Node values of a lattice graph on its grid (``NaN`` where no cell is a node).

    Shapes:
        values: [N] -> [rows, cols]
    """
    rc = lattice_positions(graph)
    v = _node_values(graph, values)
    image = np.full((int(rc[:, 0].max()) + 1, int(rc[:, 1].max()) + 1), np.nan)
    image[rc[:, 0], rc[:, 1]] = v
    return image


def _node_values(graph: SensorGraph, values: Any) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.shape != (graph.num_nodes,):
        raise ValueError(
            f"{graph.name}: one value per node expected ({graph.num_nodes}), got {v.shape}"
        )
    return v


def _map_size(graph: SensorGraph, height: float = 5.5) -> tuple[float, float]:
    """Figure size that fits the map's shape (lon/lat shrunk by ``cos(latitude)``) plus a
    colour bar."""
    xy = np.asarray(graph.coords, dtype=float)
    dx, dy = np.ptp(xy, axis=0) if len(xy) else (1.0, 1.0)
    if graph.crs is not None and is_geographic(graph.crs):
        dx *= max(np.cos(np.radians(xy[:, 1].mean())), 1e-3)
    ratio = dx / dy if dy > 0 else 2.0
    map_height = 0.78 * height  # what the title and the tick labels leave
    return float(np.clip(map_height * ratio + 2.0, 4.5, 12.0)), height


def plot_error_map(
    graph: SensorGraph,
    node_error: Any,
    *,
    label: str = "MAE",
    title: str | None = None,
) -> Figure:
    """The sensors coloured by their error: an image of the grid for a lattice graph (node
    ids ``r<row>_c<col>``), else a scatter on the graph's coordinates (lon/lat or projected)
    with its edges drawn faint. Sensors without an error (``NaN``) are hollow (map) or blank
    (image).

    Args:
        graph: the run's graph.
        node_error: one error per node (e.g. the test MAE of each sensor).
        label: colour-bar label.
        title: axes title.

    Shapes:
        node_error: [N]

    Raises:
        ValueError: wrong length, or a non-lattice graph without coordinates.
    """
    v = _node_values(graph, node_error)
    title = title or f"{graph.name}: {label} per sensor"
    if is_lattice(graph):
        from matplotlib.ticker import MaxNLocator

        fig, ax = new_figure(size=(6.5, 5.5))
        im = ax.imshow(lattice_image(graph, v), cmap="magma_r", interpolation="nearest")
        fig.colorbar(im, ax=ax, label=label, shrink=0.85)
        for axis, name in ((ax.xaxis, "column"), (ax.yaxis, "row")):
            axis.set_major_locator(MaxNLocator(integer=True))
            axis.set_label_text(name)
        ax.set_title(title, fontsize=10)
        return fig
    if graph.coords is None:
        raise ValueError(f"{graph.name}: the graph has no coordinates, so no sensor map")
    fig, ax = new_figure(size=_map_size(graph), layout=None)  # the map keeps its aspect
    plot_graph(
        graph, v, ax, arrows=False, cmap="magma_r", edge_color="0.85", label=label, title=title
    )
    ax.ticklabel_format(useOffset=False)
    ax.set_anchor("E")  # the aspect-fixed map sits against its colour bar
    return fig
