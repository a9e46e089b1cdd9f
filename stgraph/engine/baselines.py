"""Non-learned baselines, evaluated through the same windows and masked metrics as models.

Baselines are fitted on a series and predict windows of that same series (``batch.start``
indexes it); seasonal slots and periods come from the calendar (:mod:`stgraph.data.calendar`)
as resolved by the protocol.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from stgraph.data.calendar import COARSER, slot_index
from stgraph.data.protocol import Protocol
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.data.windows import Batch
from stgraph.engine.probmetrics import median
from stgraph.models.common import DEFAULT_LEVELS


def _last_observed(x: Tensor, mask: Tensor, fallback: Tensor) -> Tensor:
    """Last observed input value per node/feature; ``fallback`` where none is observed.

    Shapes:
        x, mask: [B, L, N, F]; fallback: [N, F] -> [B, N, F]
    """
    steps = torch.arange(1, x.shape[1] + 1, device=x.device).view(1, -1, 1, 1)
    pos = (mask.long() * steps).argmax(1, keepdim=True)  # index of last observed step
    last = x.gather(1, pos).squeeze(1)
    return torch.where(mask.any(1), last, fallback.to(x))


def _slot_means(slots: Tensor, size: int, values: Tensor, mask: Tensor, fallback: Tensor) -> Tensor:
    """Masked mean of ``values`` per slot; ``fallback`` for slots never observed.

    Shapes:
        slots: [T] in ``[0, size)``; values, mask: [T, N, F]; fallback: [size or 1, N, F]
        output: [size, N, F] float64
    """
    v, m = values.double(), mask.double()
    total = torch.zeros(size, *v.shape[1:], dtype=torch.float64).index_add_(0, slots, v * m)
    count = torch.zeros(size, *v.shape[1:], dtype=torch.float64).index_add_(0, slots, m)
    return torch.where(count > 0, total / count.clamp_min(1), fallback.double())


def _seasonal_table(
    data: SpatioTemporalData,
    scheme: str,
    end: int,
    table: Callable[[Tensor, int, Tensor], Tensor],
    fallback: Tensor,
) -> tuple[Tensor, Tensor]:
    """Slot of every step and a per-slot table estimated on steps ``[0, end)``, with the
    coarser scheme's table (:data:`~stgraph.data.calendar.COARSER`) as the fallback of
    the slots ``table`` cannot estimate.

    Args:
        data: the series.
        scheme: slot scheme (see :func:`~stgraph.data.calendar.slot_index`).
        end: first step after the training split.
        table: ``(training slots [end], number of slots, fallback) -> [slots, ...]``.
        fallback: the last resort of every slot, ``[1, ...]``.

    Returns:
        ``(slots [T], table [S, ...])``.
    """
    slots_np, size = slot_index(data.timestamps, scheme, data.freq)
    slots = torch.from_numpy(slots_np)
    coarse = COARSER.get(scheme)
    if coarse is not None:
        coarse_slots, coarse_size = slot_index(data.timestamps, coarse, data.freq)
        of_fine = torch.zeros(size, dtype=torch.int64)  # coarse slot of each fine slot
        of_fine[slots] = torch.from_numpy(coarse_slots)
        fallback = table(of_fine[slots[:end]], coarse_size, fallback)[of_fine]
    return slots, table(slots[:end], size, fallback)


class Baseline:
    """Interface: ``fit(data, protocol)`` on the training split, then ``predict(batch)``.

    ``node_mean`` is each node's training mean per feature; a node never observed in
    training gets its feature's mean over all nodes.

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
        feature_mean = (v * m).sum((0, 1)) / m.sum((0, 1)).clamp_min(1)  # [F]
        self.node_mean = torch.where(
            cnt > 0, (v * m).sum(0) / cnt.clamp_min(1), feature_mean
        ).float()  # [N, F]
        self.num_steps = data.num_steps
        return self

    def _targets(self, batch: Batch) -> Tensor:
        """Series index of every target step of the batch.

        Shapes:
            output: [B, H] (int64, on the CPU)
        """
        lookback, horizon = batch.x.shape[1], batch.y.shape[1]
        t = batch.start.cpu()[:, None] + lookback + torch.arange(horizon)
        if len(t) and int(t.max()) >= self.num_steps:
            raise ValueError(
                f"{self.name}: window ends at step {int(t.max())} but the fitted series has "
                f"{self.num_steps} steps; baselines predict windows of the series they were "
                "fitted on"
            )
        return t

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
    """Seasonal climatology: per-node training-split mean of each seasonal slot.

    The slot scheme is the protocol's ``slots`` (by default from the frequency: time of day
    x weekday for sub-daily data, day of week for daily, week of year for weekly, month of
    year for monthly and quarterly data; see :func:`stgraph.data.calendar.default_slots`).
    Slots are computed from the timestamps by integer arithmetic. A slot never seen in
    training falls back to the coarser scheme's mean (time of day for time of week, month
    for day of year), then to the node's training mean.
    """

    name = "historical_average"

    def fit(self, data: SpatioTemporalData, protocol: Protocol) -> HistoricalAverage:
        super().fit(data, protocol)
        assert protocol.bounds is not None
        end = protocol.bounds.train_end
        self.scheme = protocol.calendar(data)[1]
        v, m = data.values[:end], data.mask[:end]
        fallback = self.node_mean.double()[None]
        self.slots, table = _seasonal_table(  # [T], [S, N, F]
            data, self.scheme, end, lambda s, n, fb: _slot_means(s, n, v, m, fb), fallback
        )
        self.table = table.float()
        return self

    def predict(self, batch: Batch) -> Tensor:
        return self.table[self.slots[self._targets(batch)]].to(batch.x.device)


class SeasonalNaive(Baseline):
    """Value observed one season earlier, read from the series itself; the last observed
    input value where that is missing.

    Args:
        season: season length in steps; must be >= the horizon so the value is known when
            the forecast is made. ``None`` = the natural period: the shortest of the
            protocol's seasonal periods (by default the frequency's: a day for sub-daily
            data, a week or a year for daily, a year for weekly, 12 for monthly) that is
            >= the horizon; else the shortest multiple of the longest period that is; the
            horizon itself when the frequency has no seasonal period (e.g. yearly data).
    """

    name = "seasonal_naive"

    def __init__(self, season: int | None = None) -> None:
        self.season = season

    def fit(self, data: SpatioTemporalData, protocol: Protocol) -> SeasonalNaive:
        super().fit(data, protocol)
        h = protocol.horizon
        periods = protocol.calendar(data)[0]
        if self.season is not None:
            self.period = self.season
        elif not periods:
            self.period = h
        else:
            longer = [p for p in periods if p >= h]
            self.period = min(longer) if longer else periods[-1] * -(-h // periods[-1])
        if self.period < h:
            raise ValueError(f"season {self.period} is shorter than the horizon {h}")
        self.values, self.mask = data.values, data.mask
        return self

    def predict(self, batch: Batch) -> Tensor:
        t = self._targets(batch) - self.period  # [B, H]
        ok = (t >= 0)[..., None, None]
        t = t.clamp_min(0)
        past, seen = self.values[t].to(batch.x), self.mask[t].to(batch.x.device)
        seen = seen & ok.to(batch.x.device)
        last = _last_observed(batch.x, batch.x_mask, self.node_mean).unsqueeze(1)
        return torch.where(seen, past, last)


def _nanquantile(values: Tensor, levels: Tensor) -> Tensor:
    """Quantiles over dim 0 ignoring NaN, in node chunks (``torch.nanquantile`` refuses
    inputs of more than 2**24 entries).

    Shapes:
        values: [t, N, F]; levels: [Q] -> [N, F, Q]
    """
    step = max(1, (1 << 24) // max(values.shape[0] * values.shape[2], 1))
    parts = [
        torch.nanquantile(values[:, i : i + step], levels, dim=0)
        for i in range(0, values.shape[1], step)
    ]
    return torch.cat(parts, 1).movedim(0, -1)


def _slot_quantiles(
    slots: Tensor, size: int, values: Tensor, levels: Tensor, min_count: int, fallback: Tensor
) -> Tensor:
    """Empirical quantiles of the observed (non-NaN) values per slot, node and feature;
    ``fallback`` where a slot holds fewer than ``min_count`` observed values.

    Shapes:
        slots: [T] in ``[0, size)``; values: [T, N, F] (NaN = missing); levels: [Q]
        fallback: [size or 1, N, F, Q] -> [size, N, F, Q]
    """
    out = fallback.expand(size, *fallback.shape[1:]).clone()
    counts = torch.bincount(slots, minlength=size).tolist()
    chunks = torch.split(values[torch.argsort(slots, stable=True)], counts)
    for s, chunk in enumerate(chunks):
        if len(chunk) >= min_count:
            enough = ((~chunk.isnan()).sum(0) >= min_count).unsqueeze(-1)
            out[s] = torch.where(enough, _nanquantile(chunk, levels), out[s])
    return out


class ClimatologicalQuantile(Baseline):
    """Climatological quantiles: per node and seasonal slot, the empirical quantiles
    (linear interpolation, ``torch.quantile``) of the training split's observed values.

    Slots are :class:`HistoricalAverage`'s (the protocol's scheme). A slot with fewer than
    ``min_count`` observed values at a node falls back to the coarser scheme's quantiles
    (time of day for time of week, month for day of year), then to the node's quantiles
    over the whole training split, then to the mean over nodes of those. Its point
    forecast (:meth:`predict`) is the median.

    Args:
        levels: quantile levels (sorted, in (0, 1)).
        min_count: fewest observed values a slot's quantiles are estimated from.

    Shapes:
        predict_quantiles: batch -> [B, H, N, F, Q] in original units
    """

    name = "climatological_quantile"

    def __init__(self, levels: tuple[float, ...] = DEFAULT_LEVELS, min_count: int = 10) -> None:
        self.levels, self.min_count = tuple(levels), min_count

    def fit(self, data: SpatioTemporalData, protocol: Protocol) -> ClimatologicalQuantile:
        super().fit(data, protocol)
        assert protocol.bounds is not None
        end = protocol.bounds.train_end
        v = torch.where(data.mask[:end], data.values[:end].double(), float("nan"))
        q = torch.tensor(self.levels, dtype=torch.float64)
        always = torch.zeros(end, dtype=torch.int64)  # one slot: the whole training split
        node = _slot_quantiles(always, 1, v, q, 1, v.new_zeros(1, *v.shape[1:], len(q)))
        seen = (~v.isnan()).any(0)[None, :, :, None]
        pooled = torch.where(seen, node, float("nan")).nanmean(1, keepdim=True).nan_to_num(0.0)
        fallback = torch.where(seen, node, pooled)  # [1, N, F, Q]
        scheme, count = protocol.calendar(data)[1], self.min_count
        self.slots, table = _seasonal_table(
            data, scheme, end, lambda s, n, fb: _slot_quantiles(s, n, v, q, count, fb), fallback
        )
        self.table = table.float()  # [S, N, F, Q]
        return self

    def predict_quantiles(self, batch: Batch) -> Tensor:
        """The slot quantiles of every target step.

        Shapes:
            output: [B, H, N, F, Q]
        """
        return self.table[self.slots[self._targets(batch)]].to(batch.x.device)

    def predict(self, batch: Batch) -> Tensor:
        """The median of :meth:`predict_quantiles` (interpolated when 0.5 is no level)."""
        return median(self.predict_quantiles(batch), self.levels)


BASELINES: dict[str, type[Baseline]] = {
    b.name: b for b in (LastValue, HistoricalAverage, SeasonalNaive)
}
#: Statistical baselines of :mod:`stgraph.engine.statistical`, chosen by name only (not in
#: ``BASELINES``, which every run evaluates: they fit per series and ARIMA needs statsmodels).
STATISTICAL_BASELINES = ("arima", "var")


def get_baseline(name: str) -> type[Baseline]:
    """The baseline class called ``name``: one of ``BASELINES`` or ``STATISTICAL_BASELINES``."""
    if name in BASELINES:
        return BASELINES[name]
    if name in STATISTICAL_BASELINES:
        from stgraph.engine.statistical import STATISTICAL

        return STATISTICAL[name]
    raise KeyError(f"unknown baseline {name!r}; choose from {[*BASELINES, *STATISTICAL_BASELINES]}")
