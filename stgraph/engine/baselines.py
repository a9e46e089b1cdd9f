"""Non-learned baselines, evaluated through the same windows and masked metrics as models."""

from __future__ import annotations

import torch
from torch import Tensor

from stgraph.data.protocol import Protocol
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.data.windows import Batch


def _last_observed(x: Tensor, mask: Tensor, fallback: Tensor) -> Tensor:
    """Last observed input value per node/feature; ``fallback`` where none is observed.

    Shapes:
        x, mask: [B, L, N, F]; fallback: [N, F] -> [B, N, F]
    """
    steps = torch.arange(1, x.shape[1] + 1, device=x.device).view(1, -1, 1, 1)
    pos = (mask.long() * steps).argmax(1, keepdim=True)  # index of last observed step
    last = x.gather(1, pos).squeeze(1)
    return torch.where(mask.any(1), last, fallback.to(x))


class Baseline:
    """Interface: ``fit(data, protocol)`` on the training split, then ``predict(batch)``.

    Shapes:
        predict: batch -> [B, H, N, F] in original units
    """

    name = "baseline"

    def fit(self, data: SpatioTemporalData, protocol: Protocol) -> Baseline:
        """Estimate whatever the baseline needs from time steps ``[0, train_end)`` only."""
        assert protocol.bounds is not None
        end = protocol.bounds.train_end
        v, m = data.values[:end].double(), data.mask[:end]
        cnt = m.sum(0)
        self.node_mean = torch.where(
            cnt > 0, (v * m).sum(0) / cnt.clamp_min(1), (v * m).sum() / m.sum().clamp_min(1)
        ).float()  # [N, F]
        return self

    def predict(self, batch: Batch) -> Tensor:
        raise NotImplementedError


class LastValue(Baseline):
    """Repeat the last observed input value over the horizon (training mean of the node when
    the whole input window is missing)."""

    name = "last_value"

    def predict(self, batch: Batch) -> Tensor:
        last = _last_observed(batch.x, batch.x_mask, self.node_mean)
        return last.unsqueeze(1).expand(-1, batch.y.shape[1], -1, -1)


class HistoricalAverage(Baseline):
    """Per-node mean of the training split in the same (time-of-day x day-of-week) slot.

    Slots never seen in training fall back to the node's time-of-day mean, then to the
    node's overall training mean.
    """

    name = "historical_average"

    def fit(self, data: SpatioTemporalData, protocol: Protocol) -> HistoricalAverage:
        super().fit(data, protocol)
        assert protocol.bounds is not None
        end = protocol.bounds.train_end
        self.spd = data.steps_per_day
        tod, dow = self._slots(data.covariates[:end, 0])  # type: ignore[index]
        v, m = data.values[:end].double(), data.mask[:end].double()
        n, f = v.shape[1:]

        def table(idx: Tensor, size: int) -> tuple[Tensor, Tensor]:
            s = torch.zeros(size, n, f, dtype=torch.float64).index_add_(0, idx, v * m)
            c = torch.zeros(size, n, f, dtype=torch.float64).index_add_(0, idx, m)
            return s, c

        s_week, c_week = table(dow * self.spd + tod, 7 * self.spd)
        s_day, c_day = table(tod, self.spd)
        day = torch.where(c_day > 0, s_day / c_day.clamp_min(1), self.node_mean.double())
        week = torch.where(c_week > 0, s_week / c_week.clamp_min(1), day.repeat(7, 1, 1))
        self.table = week.float()  # [7 * spd, N, F]
        return self

    def _slots(self, cov: Tensor) -> tuple[Tensor, Tensor]:
        tod = (cov[..., 0] * self.spd).floor().long().clamp(0, self.spd - 1)
        return tod, cov[..., 1].round().long().clamp(0, 6)

    def predict(self, batch: Batch) -> Tensor:
        horizon = batch.y.shape[1]
        tod, dow = self._slots(batch.covariates[:, -horizon:, 0])  # [B, H]
        return self.table.to(batch.x.device)[dow * self.spd + tod]


class SeasonalNaive(Baseline):
    """Value observed one season earlier, read from the series itself; the last observed
    input value where that is missing.

    Args:
        season: season length in steps; must be >= the horizon so the value is known when
            the forecast is made. ``None`` = the shortest whole number of days covering the
            horizon (one day for sub-daily data, e.g. 7 days for daily data and ``H = 7``).
    """

    name = "seasonal_naive"

    def __init__(self, season: int | None = None) -> None:
        self.season = season

    def fit(self, data: SpatioTemporalData, protocol: Protocol) -> SeasonalNaive:
        super().fit(data, protocol)
        spd = data.steps_per_day
        self.period = self.season or spd * -(-protocol.horizon // spd)
        if self.period < protocol.horizon:
            raise ValueError(f"season {self.period} is shorter than the horizon {protocol.horizon}")
        self.values, self.mask = data.values, data.mask
        return self

    def predict(self, batch: Batch) -> Tensor:
        lookback, horizon = batch.x.shape[1], batch.y.shape[1]
        t = batch.start[:, None] + lookback + torch.arange(horizon) - self.period  # [B, H]
        ok = (t >= 0)[..., None, None]
        t = t.clamp_min(0)
        past, seen = self.values[t].to(batch.x), self.mask[t].to(batch.x.device) & ok
        last = _last_observed(batch.x, batch.x_mask, self.node_mean).unsqueeze(1)
        return torch.where(seen, past, last)


BASELINES: dict[str, type[Baseline]] = {
    b.name: b for b in (LastValue, HistoricalAverage, SeasonalNaive)
}
