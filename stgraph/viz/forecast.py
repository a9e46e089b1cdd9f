"""``plot_forecast``: forecasts against the truth over a stretch of time, one panel per
sensor, and :func:`horizon_series`, which lays the ``k``-step-ahead forecasts of
consecutive windows on the time axis of their targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Band = tuple[np.ndarray, np.ndarray]


def new_figure(
    rows: int = 1,
    cols: int = 1,
    *,
    size: tuple[float, float],
    layout: Any = "constrained",
    **kw: Any,
) -> Any:
    """A figure and its axes without pyplot: no window ever opens, whatever the
    interactive backend; ``savefig`` renders PNGs with Agg.

    Args:
        rows, cols: the grid of axes.
        size: figure size in inches.
        layout: matplotlib layout engine (``None`` for axes with a fixed aspect).
        kw: passed to ``Figure.subplots`` (e.g. ``sharex``).

    Returns:
        ``(figure, axes)``: ``axes`` is one ``Axes`` for ``1 x 1``, else an array.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout=layout)
    return fig, fig.subplots(rows, cols, **kw)


def horizon_series(pred: np.ndarray, step: int, starts: Any = None) -> np.ndarray:
    """The ``step``-ahead forecasts of many windows laid on the time axis of their targets:
    window ``w``, whose first target is step ``starts[w]``, forecasts step
    ``starts[w] + k - 1`` at horizon ``k``; entry ``t`` of the output is the forecast made
    ``step`` steps before step ``starts[0] + t`` (``NaN`` where no window made one).

    Args:
        pred: forecasts of ``W`` windows, in increasing order of ``starts``.
        step: ``k`` in ``1 .. H``.
        starts: first target step of every window (default ``0, 1, ..., W - 1``: windows one
            step apart).

    Shapes:
        pred: [W, H, ...]; starts: [W] -> [starts[-1] - starts[0] + H, ...]
    """
    w, h = pred.shape[:2]
    if not 1 <= step <= h:
        raise ValueError(f"step must lie in 1..{h} (the horizon), got {step}")
    at = np.arange(w) if starts is None else np.asarray(starts, dtype=np.int64) - int(starts[0])
    if at.shape != (w,) or (np.diff(at) <= 0).any():
        raise ValueError(f"starts must be {w} increasing window starts, got shape {at.shape}")
    out = np.full((int(at[-1]) + h, *pred.shape[2:]), np.nan, dtype=np.float64)
    out[at + step - 1] = pred[:, step - 1]
    return out


def plot_forecast(
    times: Sequence[Any] | pd.DatetimeIndex,
    truth: np.ndarray,
    forecasts: Mapping[str, np.ndarray],
    sensors: Sequence[str],
    *,
    bands: Mapping[str, Band] | None = None,
    unit: str | None = None,
    title: str | None = None,
) -> Figure:
    """Forecasts against the truth for a few sensors, one panel each, on real timestamps.

    Missing truth (``NaN``) is drawn as a gap, never interpolated. Each entry of ``bands``
    shades an interval (e.g. the outermost quantiles of a probabilistic model) in the
    colour of the forecast of the same name.

    Args:
        times: the ``T`` timestamps of the stretch.
        truth: observed values, ``NaN`` where missing.
        forecasts: label (e.g. ``"1-step (5m)"``) -> forecasts on the same time axis,
            ``NaN`` where there is none (see :func:`horizon_series`).
        sensors: one panel title per column (the node ids, maybe with a note).
        bands: label of a forecast -> ``(lower, upper)`` bounds.
        unit: y-axis label.
        title: figure title.

    Shapes:
        truth, forecasts[*], bands[*][0 | 1]: [T, S] with ``S = len(sensors)``

    Returns:
        The figure (save it with :func:`stgraph.viz.save_figure`).
    """
    t = pd.DatetimeIndex(times)
    y = np.asarray(truth, dtype=np.float64)
    if y.ndim != 2 or y.shape != (len(t), len(sensors)):
        raise ValueError(
            f"truth must be [T={len(t)}, S={len(sensors)}] (times x sensors), got {y.shape}"
        )
    for name, f in {**forecasts, **{f"band {k}": v[0] for k, v in (bands or {}).items()}}.items():
        if np.shape(f) != y.shape:
            raise ValueError(f"forecast {name!r} has shape {np.shape(f)}; expected {y.shape}")
    fig, axes = new_figure(len(sensors), 1, size=(10, 2.4 * len(sensors) + 0.6), sharex=True)
    axes = np.atleast_1d(axes)
    colours = {name: f"C{i + 1}" for i, name in enumerate(forecasts)}
    for s, (ax, sensor) in enumerate(zip(axes, sensors, strict=True)):
        ax.plot(t, y[:, s], color="k", lw=1.2, label="truth")
        for name, (lo, hi) in (bands or {}).items():
            shade = {"color": colours.get(name, "C0"), "alpha": 0.18, "lw": 0}
            ax.fill_between(t, lo[:, s], hi[:, s], label=f"{name} interval", **shade)
        for name, f in forecasts.items():
            ax.plot(t, np.asarray(f)[:, s], color=colours[name], lw=0.9, label=name)
        ax.set_title(str(sensor), fontsize=9, loc="left")
        if unit:
            ax.set_ylabel(unit)
        ax.grid(alpha=0.25)
    axes[0].legend(fontsize=8, ncol=4, loc="upper right")
    fig.autofmt_xdate()
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
