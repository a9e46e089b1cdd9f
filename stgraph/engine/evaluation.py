"""Evaluation through one path: masked metrics of any ``batch -> forecast`` function over a
split's windows, for the model and every baseline alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from stgraph.data.protocol import Protocol
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.data.windows import Batch, WindowDataset
from stgraph.engine.baselines import BASELINES, ClimatologicalQuantile
from stgraph.engine.distributed import current, reduce_metrics, shard_windows
from stgraph.engine.metrics import MetricAccumulator
from stgraph.engine.probmetrics import (
    ProbAccumulator,
    forecast_levels,
    gaussian_crps,
    quantile_forecast,
)
from stgraph.models.common import OutputHead

MAPE_NOTE = (
    "MAPE not reported: the training values include negatives (signed or standardised data), "
    "where a percentage error has no meaning"
)


@torch.no_grad()
def evaluate_forecaster(
    forecast: Callable[[Batch], Tensor], windows: WindowDataset, batch_size: int = 64
) -> dict[str, Any]:
    """Masked metrics of ``forecast(batch) -> [B, H, N, F]`` over all windows (exact sums).
    In a distributed run each rank forecasts its shard of the windows and the sums are
    reduced, so every rank returns the same metrics.

    Returns:
        ``{"overall": {...}, "horizons": {"1": {...}, ...}}`` (see
        :class:`~stgraph.engine.metrics.MetricAccumulator`).
    """
    ctx = current()
    acc = MetricAccumulator(windows.horizon)
    for batch in shard_windows(windows, ctx).loader(batch_size):
        acc.update(forecast(batch), batch.y, batch.y_mask)
    reduce_metrics(acc, ctx)
    return acc.compute()


def mape_is_meaningful(data: SpatioTemporalData, protocol: Protocol) -> bool:
    """MAPE is reported only for data whose observed training values are all >= 0
    (speeds, counts, concentrations); signed or standardised series get ``None``."""
    assert protocol.bounds is not None
    end = protocol.bounds.train_end
    observed = data.values[:end][data.mask[:end]]
    return bool(observed.numel() == 0 or observed.min() >= 0)


def drop_mape(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with every ``mape`` set to ``None``."""
    out = {"overall": {**result["overall"], "mape": None}}
    out["horizons"] = {h: {**m, "mape": None} for h, m in result["horizons"].items()}
    return out


def evaluate_methods(
    model_forecast: Callable[[Batch], Tensor],
    data: SpatioTemporalData,
    protocol: Protocol,
    split: str = "test",
    batch_size: int = 64,
) -> dict[str, dict[str, Any]]:
    """Masked metrics of the model and of every baseline (fitted on the training split) on
    ``split``: ``{"model": {...}, "last_value": {...}, ...}``; MAPE is ``None`` where
    :func:`mape_is_meaningful` says so."""
    windows = protocol.windows(data, split)
    results = {"model": evaluate_forecaster(model_forecast, windows, batch_size)}
    for name, cls in BASELINES.items():
        base = cls().fit(data, protocol)
        results[name] = evaluate_forecaster(base.predict, windows, batch_size)
    if not mape_is_meaningful(data, protocol):
        results = {k: drop_mape(v) for k, v in results.items()}
    return results


@torch.no_grad()
def evaluate_probabilistic(
    model_distribution: Callable[[Batch], Tensor],
    head: OutputHead,
    data: SpatioTemporalData,
    protocol: Protocol,
    split: str = "test",
    batch_size: int = 64,
) -> dict[str, dict[str, Any]]:
    """CRPS, central-interval coverage and width (see :mod:`stgraph.engine.probmetrics`) of
    a distributional forecast and of the climatological-quantile baseline (fitted on the
    training split, at the same levels) on ``split``, exact over all windows. In a
    distributed run the calling process scores every window itself (no collective: the
    other ranks need not call it).

    Args:
        model_distribution: ``batch -> [B, H, N, F, K]`` in original units: quantiles at
            ``head.levels``, or a Gaussian's mean and std (its CRPS in closed form, its
            quantiles at :func:`~stgraph.engine.probmetrics.forecast_levels`).
        head: the distribution the model outputs.

    Returns:
        ``{"model": {"overall": {...}, "horizons": {...}}, "climatological_quantile": ...}``.
    """
    levels = forecast_levels(head)
    windows = protocol.windows(data, split)
    base = ClimatologicalQuantile(levels).fit(data, protocol)
    accs = {k: ProbAccumulator(windows.horizon, levels) for k in ("model", base.name)}
    for batch in windows.loader(batch_size):
        dist, y, mask = model_distribution(batch), batch.y, batch.y_mask
        crps = gaussian_crps(dist, y) if head.kind == "gaussian" else None
        accs["model"].update(quantile_forecast(head, dist), y, mask, crps)
        accs[base.name].update(base.predict_quantiles(batch), y, mask)
    return {k: acc.compute() for k, acc in accs.items()}
