"""Forecasts past the end of a series (the input window, the tidy frame) and, from a
distributional head's output: original units, the point forecast and quantiles.

The output of a :class:`~stgraph.models.common.DistributionalOutput` is ``[..., K]`` per
target value: sorted quantiles at the head's levels, or a Gaussian's mean and standard
deviation. Scalers are affine (``x = z * scale + shift``, with ``scale > 0``), so quantiles
map to quantiles and the mean to the mean through ``inverse_transform``, and a standard
deviation is multiplied by ``scale`` (read here as ``inverse(mu + sigma) - inverse(mu)``,
so nothing depends on the scaler's internals).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from stgraph.data.protocol import Protocol
from stgraph.data.scalers import Scaler
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.data.windows import Batch
from stgraph.engine.evaluation import evaluate_probabilistic
from stgraph.engine.inputs import future_times, window_covariates
from stgraph.engine.probmetrics import forecast_levels, median, quantile_forecast
from stgraph.models import ModelSpec
from stgraph.models.common import OutputHead


def to_original(head: OutputHead, out: Tensor, inverse: Callable[[Tensor], Tensor]) -> Tensor:
    """A distributional output in scaled units, mapped to original units.

    Args:
        head: the distribution ``out`` describes.
        out: the model's output (scaled units).
        inverse: the fitted scaler's ``inverse_transform`` (affine, increasing).

    Shapes:
        out: [B, H, N, F, K] -> [B, H, N, F, K]
    """
    if head.kind == "quantile":
        return inverse(out.movedim(-1, 0)).movedim(0, -1)
    loc = inverse(out[..., 0])
    std = (inverse(out[..., 0] + out[..., 1]) - loc).clamp_min(1e-12)
    return torch.stack([loc, std], -1)


def point_forecast(head: OutputHead, out: Tensor) -> Tensor:
    """The point forecast of a distributional output: the median of quantiles
    (interpolated at 0.5 when it is not a level), the mean of a Gaussian.

    Shapes:
        out: [B, H, N, F, K] -> [B, H, N, F]
    """
    return median(out, head.levels) if head.kind == "quantile" else out[..., 0]


def quantile_columns(head: OutputHead, out: Tensor) -> dict[str, np.ndarray]:
    """Forecast-frame columns of one forecast: ``q<level>`` per level of
    :func:`forecast_levels` (e.g. ``q0.1``) and, for a Gaussian, ``std``; each flattened in
    the frame's ``[H, N, F]`` row order.

    Shapes:
        out: [H, N, F, K] (original units) -> columns of H * N * F values
    """
    quantiles = quantile_forecast(head, out).double().numpy()
    cols = {f"q{t:g}": quantiles[..., i].reshape(-1) for i, t in enumerate(forecast_levels(head))}
    if head.kind == "gaussian":
        cols["std"] = out[..., 1].double().numpy().reshape(-1)
    return cols


def next_window(
    data: SpatioTemporalData, protocol: Protocol, future_covariates: Any = None
) -> tuple[Any, Batch]:
    """The timestamps of the ``H`` steps after the end of ``data`` and the one-window batch
    that forecasts them (its last ``L`` steps; targets empty).

    Args:
        data: a series holding at least the lookback ``L`` most recent steps.
        protocol: the fitted protocol (lookback, horizon, calendar).
        future_covariates: the ``H`` future values of user covariates beyond the calendar.

    Shapes:
        future_covariates: [H, 1 or N, C - 2]; batch x: [1, L, N, F]
    """
    lookback, horizon = protocol.lookback, protocol.horizon
    if data.num_steps < lookback:
        raise ValueError(
            f"forecast needs the last {lookback} steps (the lookback); {data.name!r} has "
            f"{data.num_steps}"
        )
    times = future_times(data, horizon)
    cov = window_covariates(data, times, lookback, future_covariates)
    n, f = data.num_nodes, data.num_features
    edges: tuple[Any, Any, Any] = (None, None, None)
    if data.temporal_edges is not None:
        ei, ew = data.temporal_edges.at(data.num_steps - 1)
        edges = (ei, ew, torch.tensor([0, ei.shape[1]]))
    batch = Batch(
        x=data.values[-lookback:][None],
        y=torch.zeros(1, horizon, n, f),
        x_mask=data.mask[-lookback:][None],
        y_mask=torch.zeros(1, horizon, n, f, dtype=torch.bool),
        covariates=cov[None],
        start=torch.tensor([data.num_steps - lookback]),
        edge_index=edges[0],
        edge_weight=edges[1],
        edge_ptr=edges[2],
    )
    return times, batch


def forecast_frame(
    data: SpatioTemporalData, times: Any, point: Tensor, extra: dict[str, np.ndarray] | None = None
) -> pd.DataFrame:
    """Tidy forecast frame: ``time, node, feature, value`` (+ the ``extra`` columns), one
    row per step, node and feature with real timestamps and node ids.

    Shapes:
        point: [H, N, F] -> H * N * F rows
    """
    horizon, n, f = point.shape
    return pd.DataFrame(
        {
            "time": np.repeat(times, n * f),
            "node": np.tile(np.repeat(np.asarray(data.graph.node_ids), f), horizon),
            "feature": np.tile(np.asarray(data.feature_names), horizon * n),
            "value": point.numpy().reshape(-1).astype(np.float64),
            **(extra or {}),
        }
    )


class DistributionalForecasts:
    """What a :class:`~stgraph.engine.forecaster.Forecaster` forecasts and scores with a
    distributional head (quantiles or a Gaussian); mixed into it, which provides the
    attributes below and ``_predict_scaled`` (the model's output in scaled units, eval
    mode, on the CPU)."""

    spec: ModelSpec
    protocol: Protocol
    scaler: Scaler

    def _predict_scaled(self, batch: Batch) -> Tensor:
        raise NotImplementedError

    def check_data(self, data: SpatioTemporalData) -> None:
        raise NotImplementedError

    @property
    def head(self) -> OutputHead:
        """The output distribution (point, quantiles or Gaussian)."""
        return self.spec.head

    @property
    def quantile_levels(self) -> tuple[float, ...]:
        """Levels of :meth:`predict_quantiles` (:func:`forecast_levels`); empty for a point
        model."""
        return forecast_levels(self.head)

    @torch.no_grad()
    def predict_distribution(self, batch: Batch) -> Tensor:
        """The head's forecast in original units (:func:`to_original`): sorted quantiles at
        the head's levels, or a Gaussian's mean and standard deviation.

        Shapes:
            output: [B, H, N, F, K] on the CPU
        """
        if not self.head.probabilistic:
            raise ValueError("this model was trained with a point head: it has no distribution")
        return to_original(self.head, self._predict_scaled(batch), self.scaler.inverse_transform)

    def predict_quantiles(self, batch: Batch) -> Tensor:
        """Quantiles in original units at :attr:`quantile_levels`.

        Shapes:
            output: [B, H, N, F, Q] on the CPU
        """
        return quantile_forecast(self.head, self.predict_distribution(batch))

    def evaluate_probabilistic(
        self, data: SpatioTemporalData, split: str = "test", batch_size: int = 64
    ) -> dict[str, dict[str, Any]]:
        """CRPS, interval coverage and width of the model and the climatological-quantile
        baseline on ``split`` (:func:`~stgraph.engine.evaluation.evaluate_probabilistic`);
        ``{}`` for a point model."""
        if not self.head.probabilistic:
            return {}
        self.check_data(data)
        fn, head = self.predict_distribution, self.head
        return evaluate_probabilistic(fn, head, data, self.protocol, split, batch_size)
