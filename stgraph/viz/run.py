"""``plot_run``: every plot of a finished run, written as PNG files into its directory.

The run is reloaded (:func:`stgraph.engine.experiment.load_run`), its test windows are
forecast once, and the plots are drawn from those forecasts, ``metrics.json`` and the
training history. A plot that does not apply (no attention in the model, no coordinates
for a map) is skipped with a logged reason.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stgraph.data.calendar import horizon_label
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.engine.experiment import load_run
from stgraph.engine.forecaster import Forecaster
from stgraph.engine.rundir import is_run_dir, read_json
from stgraph.nn.attention.record import record_attention
from stgraph.viz.attention import plot_attention
from stgraph.viz.errors import methods_of, plot_error_map, plot_horizon_errors
from stgraph.viz.forecast import horizon_series, plot_forecast
from stgraph.viz.graph import save_figure
from stgraph.viz.training import plot_training, read_history

log = logging.getLogger("stgraph.viz")

FINISHED = ("forecaster.json", "model.pt", "metrics.json")
ATTENTION_BATCH = 8  # test windows run through the attention recorder
DPI = 110  # a 10-inch figure is 1100 pixels wide: sharp in the report, quick to write


def check_finished(run_dir: str | Path) -> Path:
    """``run_dir`` as a path, after checking that it holds a finished run.

    Raises:
        FileNotFoundError: no such folder.
        ValueError: not a stgraph run directory, or training did not finish.
    """
    d = Path(run_dir)
    if not d.is_dir():
        raise FileNotFoundError(f"{d}: no such run directory")
    if not is_run_dir(d):
        raise ValueError(f"{d}: not a stgraph run directory (no run config.json)")
    missing = [name for name in FINISHED if not (d / name).is_file()]
    if missing:
        raise ValueError(
            f"{d}: unfinished run (no {', '.join(missing)}); finish it with "
            f"`stgraph train --resume --out {d}`"
        )
    return d


@dataclass
class SplitForecasts:
    """The model's test-split forecasts, as the plots need them.

    Shapes:
        starts: [W] first target step of each of the ``W`` windows of the stretch
        pred: [W, H, N, F]; bounds: [W, H, N, F, 2] (outermost quantiles) or ``None``
        node_mae: [N] (all test windows, horizons and features; ``NaN``: never observed)
    """

    starts: np.ndarray
    pred: np.ndarray
    bounds: np.ndarray | None
    levels: tuple[float, ...]
    node_mae: np.ndarray


def stretch_windows(data: SpatioTemporalData, horizon: int, available: int) -> int:
    """How many consecutive test windows the forecast plot shows: two days of a sub-daily
    series, else 60 steps; at least four horizons, at most what the split has.

    Args:
        data: the series (its step).
        horizon: forecast steps ``H``.
        available: test windows in the split.
    """
    steps = 2 * data.steps_per_day if data.steps_per_day > 1 else 60
    return max(1, min(available, max(steps, 4 * horizon)))


@torch.no_grad()
def split_forecasts(forecaster: Forecaster, data: SpatioTemporalData) -> SplitForecasts:
    """Forecast every test window once: keep the first stretch of windows for the forecast
    plot (and their outermost quantiles when the forecaster has ``quantile_levels``) and
    each node's masked MAE over all of them.

    Args:
        forecaster: the run's forecaster (or any object with its ``protocol``, ``config``,
            ``predict`` and, optionally, ``quantile_levels`` / ``predict_quantiles``).
        data: the run's series.
    """
    windows = forecaster.protocol.windows(data, "test")
    if len(windows) == 0:
        raise ValueError(f"{data.name}: the test split has no window to plot")
    keep = stretch_windows(data, windows.horizon, len(windows))
    levels = tuple(float(q) for q in getattr(forecaster, "quantile_levels", ()) or ())
    quantiles = getattr(forecaster, "predict_quantiles", None) if levels else None
    err = torch.zeros(data.num_nodes, dtype=torch.float64)
    count = torch.zeros(data.num_nodes, dtype=torch.float64)
    preds, bounds, seen = [], [], 0
    for batch in windows.loader(forecaster.config.train.batch_size):
        pred = forecaster.predict(batch)
        mask = batch.y_mask
        diff = torch.where(mask, (pred - batch.y).abs(), torch.zeros(()))
        err += diff.sum((0, 1, 3)).double()
        count += mask.sum((0, 1, 3)).double()
        if seen < keep:
            take = min(len(batch), keep - seen)
            preds.append(pred[:take].numpy())
            if quantiles is not None:  # [B, H, N, F, Q], sorted along Q: the outermost pair
                bounds.append(quantiles(batch)[:take][..., [0, -1]].numpy())
            seen += take
    node_mae = torch.where(count > 0, err / count.clamp_min(1), torch.nan).numpy()
    return SplitForecasts(
        starts=windows.starts[:keep] + windows.lookback,
        pred=np.concatenate(preds),
        bounds=np.concatenate(bounds) if bounds else None,
        levels=levels,
        node_mae=node_mae,
    )


def sensor_indices(data: SpatioTemporalData, sensors: Sequence[str]) -> list[int]:
    """Node positions of the given node ids.

    Raises:
        ValueError: an id is not a node of the run's graph (named, with example ids).
    """
    out = []
    for s in sensors:
        try:
            out.append(data.graph.index_of(s))
        except KeyError:
            examples = ", ".join(data.graph.node_ids[:3])
            raise ValueError(
                f"sensor {s!r} is not a node of {data.graph.name} (node ids look like "
                f"{examples}, ...)"
            ) from None
    return out


def pick_sensors(
    data: SpatioTemporalData, node_mae: np.ndarray, sensors: Sequence[str] | None
) -> list[tuple[int, str]]:
    """Node indices and panel titles: the given node ids, else the sensors with the lowest,
    the median and the highest test MAE.

    Raises:
        ValueError: a given id is not a node of the run's graph.
    """
    ids = data.graph.node_ids
    if sensors:
        return [(i, f"{ids[i]} (MAE {node_mae[i]:.3g})") for i in sensor_indices(data, sensors)]
    finite = np.flatnonzero(np.isfinite(node_mae))
    if finite.size == 0:
        return [(0, ids[0])]
    order = finite[np.argsort(node_mae[finite], kind="stable")]
    picks = {"lowest": order[0], "median": order[len(order) // 2], "highest": order[-1]}
    out, used = [], set()
    for what, i in picks.items():
        if int(i) not in used:
            used.add(int(i))
            out.append((int(i), f"{ids[i]} ({what} test MAE: {node_mae[i]:.3g})"))
    return out


def forecast_figure(
    data: SpatioTemporalData, fc: SplitForecasts, chosen: list[tuple[int, str]]
) -> Any:
    """The forecast-vs-truth figure of the first feature for the chosen sensors: the truth
    over the stretch of :func:`split_forecasts`, the 1-step and the H-step-ahead forecasts,
    and the quantile band of each when there is one.

    Args:
        data: the run's series.
        fc: the test forecasts.
        chosen: ``(node index, panel title)`` pairs (:func:`pick_sensors`).
    """
    nodes = [i for i, _ in chosen]
    horizon = fc.pred.shape[1]
    t0 = int(fc.starts[0])
    t1 = int(fc.starts[-1]) + horizon
    truth = data.values[t0:t1, nodes, 0].double().numpy()
    truth[~data.mask[t0:t1, nodes, 0].numpy()] = np.nan
    forecasts, bands = {}, {}
    for k in sorted({1, horizon}):
        label = f"{k} step{'s' if k > 1 else ''} ahead ({horizon_label(data.freq, k)})"
        forecasts[label] = horizon_series(fc.pred[:, :, nodes, 0], k, fc.starts)
        if fc.bounds is not None:
            lo, hi = (horizon_series(fc.bounds[:, :, nodes, 0, j], k, fc.starts) for j in (0, 1))
            bands[label] = (lo, hi)
    note = ""
    if fc.bounds is not None:
        note = f"; shaded: quantiles {fc.levels[0]:g} to {fc.levels[-1]:g}"
    feature = data.feature_names[0]
    unit = f"{feature} ({data.units[0]})" if data.units else feature
    return plot_forecast(
        data.timestamps[t0:t1],
        truth,
        forecasts,
        [title for _, title in chosen],
        bands=bands or None,
        unit=unit,
        title=f"{data.name}: forecast vs truth on the test split{note}",
    )


def attention_figures(forecaster: Forecaster, data: SpatioTemporalData) -> dict[str, Any]:
    """Attention maps of a few test windows, one figure per kind (``attention_temporal``,
    ``attention_spatial``, ...); empty when the model records no attention.

    Args:
        forecaster: the run's forecaster (its model is recorded with
            :func:`~stgraph.nn.attention.record.record_attention`).
        data: the run's series.
    """
    windows = forecaster.protocol.windows(data, "test")
    batch = windows.batch(np.arange(min(ATTENTION_BATCH, len(windows))))
    with record_attention(forecaster.model) as records:
        forecaster.predict(batch)
    grouped: dict[str, dict[str, Any]] = {}
    for name, rec in records.items():
        try:
            grouped.setdefault(rec.kind, {})[name] = rec.mean()
        except ValueError as e:
            log.info("attention map %s skipped: %s", name, e)
    figures = {}
    for kind, maps in grouped.items():
        labels = list(data.graph.node_ids) if kind == "spatial" else None
        title = f"{forecaster.config.model}: {kind} attention ({len(batch)} test windows)"
        figures[f"attention_{kind}"] = plot_attention(maps, kind, labels=labels, title=title)
    return figures


def plot_run(
    run_dir: str | Path,
    *,
    data: SpatioTemporalData | None = None,
    data_dir: str | Path | None = None,
    sensors: Sequence[str] | None = None,
    out_dir: str | Path | None = None,
) -> list[Path]:
    """Write the plots of a finished run as PNG files and return their paths.

    ``forecast.png`` (1-step and H-step-ahead forecasts against the truth on a stretch of
    the test split, with the outermost quantile band for a probabilistic model),
    ``horizon_errors.png`` (MAE / RMSE per step, model and baselines, from
    ``metrics.json``), ``error_map.png`` (test MAE per sensor on the map, or the grid of a
    lattice), ``training.png`` (per-epoch curves) and ``attention_<kind>.png`` for models
    with attention. Plots that do not apply are skipped with a logged reason.

    Args:
        run_dir: a run directory written by :func:`stgraph.engine.experiment.train_run`.
        data: the series of a run trained on in-memory data (see ``load_run``).
        data_dir: data root for a registered real dataset.
        sensors: node ids for the forecast plot (default: the sensors with the lowest,
            median and highest test MAE).
        out_dir: where the PNGs go (default ``run_dir/plots``).

    Raises:
        FileNotFoundError / ValueError: not a finished run, its data does not fit, or an
            unknown sensor id (each named).
    """
    d = check_finished(run_dir)
    forecaster, data = load_run(d, data_dir, data)
    sensor_indices(data, sensors or ())  # a wrong id fails before any forecast
    out = Path(out_dir) if out_dir is not None else d / "plots"
    out.mkdir(parents=True, exist_ok=True)
    name = f"{data.name} / {forecaster.config.model}"
    fc = split_forecasts(forecaster, data)
    figures: dict[str, Any] = {
        "forecast": forecast_figure(data, fc, pick_sensors(data, fc.node_mae, sensors)),
        "horizon_errors": plot_horizon_errors(
            methods_of(read_json(d / "metrics.json")), data.freq, title=f"{name}: test error"
        ),
    }
    try:
        figures["error_map"] = plot_error_map(data.graph, fc.node_mae, label="test MAE")
    except ValueError as e:
        log.info("%s: no sensor map: %s", d, e)
    try:
        figures["training"] = plot_training(read_history(d), title=f"{name}: training")
    except (FileNotFoundError, ValueError) as e:
        log.info("%s: no training curves: %s", d, e)
    attention = attention_figures(forecaster, data)
    if not attention:
        log.info("%s: no attention maps: model %r records no attention weights", d, name)
    figures.update(attention)
    return [save_figure(fig, out / f"{key}.png", dpi=DPI) for key, fig in figures.items()]
