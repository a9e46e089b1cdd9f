"""The evaluation protocol: splits, window sizes, scaler and missing-value rule, saved as JSON."""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from stgraph._atomic import atomic_write_text
from stgraph.data.calendar import SLOT_SCHEMES, default_slots, seasonal_periods
from stgraph.data.chunks import chunk_rows, order_statistics, quantiles, time_chunks
from stgraph.data.scalers import Scaler, make_scaler, scaler_from_state
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.data.splits import SplitBounds, bounds_from_dates, bounds_from_fractions, window_starts
from stgraph.data.windows import WindowDataset

MISSING_RULE = (
    "missing entries (mask == False) are excluded from scaler statistics, losses and metrics; "
    "in model inputs they are 0 after scaling (the training mean for z-score scalers); MAPE "
    "also skips targets with |y| < 1e-6"
)
#: a training value is an outlier when it lies more than this many spreads (width of the
#: central 98% of its feature's values) from the feature's median, or beyond ``OUTLIER_ABS``
#: in magnitude: fill values such as 1e30 (the real datasets stay within 60 spreads).
OUTLIER_SPREADS = 1000.0
OUTLIER_ABS = 1e15
#: daily data gets day-of-year slots when its training split covers this many years.
YEARS_FOR_DAY_OF_YEAR = 2


class OutlierWarning(UserWarning):
    """Observed training values that look like fill values (see :func:`find_outliers`)."""


#: per feature: (median, spread, minimum, maximum) of the observed values, or None (none)
_Bounds = list[tuple[float, float, float, float] | None]


def _outlier_bounds(values: torch.Tensor, mask: torch.Tensor) -> _Bounds:
    """Per feature, the median, spread (see :func:`find_outliers`), minimum and maximum of
    the observed values (exact quantiles in time chunks)."""
    out: _Bounds = []
    for qs in quantiles(values, mask, [0.0, 0.001, 0.01, 0.5, 0.99, 0.999, 1.0]):
        if qs is None:
            out.append(None)
            continue
        least, lo, lo2, med, hi2, hi, most = (float(q) for q in qs)
        out.append((med, (hi2 - lo2) or (hi - lo), least, most))
    return out


def _may_have_outliers(bounds: _Bounds) -> bool:
    """Whether any observed value can be an outlier, judged from the extremes alone."""
    for b in bounds:
        if b is None:
            continue
        med, spread, least, most = b
        if max(-least, most) > OUTLIER_ABS:
            return True
        if spread > 0 and max(med - least, most - med) > OUTLIER_SPREADS * spread:
            return True
    return False


def _outlier_chunks(
    values: torch.Tensor, mask: torch.Tensor, bounds: _Bounds
) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """``(start, values chunk, outliers of the chunk)`` over time chunks (see
    :func:`find_outliers`)."""
    for a, (v, m) in time_chunks(values, mask, rows=chunk_rows(values) // 4 or 1):
        out = m & (v.abs() > OUTLIER_ABS)
        for f, b in enumerate(bounds):
            if b is not None and b[1] > 0:
                far = (v[..., f].double() - b[0]).abs() > OUTLIER_SPREADS * b[1]
                out[..., f] |= m[..., f] & far
        yield a, v, out


def find_outliers(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Observed entries far from their feature's bulk: more than ``OUTLIER_SPREADS`` times
    the spread from the feature's median (pooled over time and nodes), or with magnitude
    above ``OUTLIER_ABS``. The spread is the width of the central 98% of the observed values
    (of the central 99.8% when that is 0, e.g. rain that is mostly 0): robust to up to 1% of
    fill values, and wide enough that heavy but real tails (storms, rush hours) pass.
    Quantiles are exact (as ``np.quantile``) and computed in time chunks.

    Shapes:
        values, mask: [T, N, F] -> output: [T, N, F] bool
    """
    bounds = _outlier_bounds(values, mask)
    return torch.cat([far for _, _, far in _outlier_chunks(values, mask, bounds)])


@dataclass(frozen=True)
class Protocol:
    """Everything that defines an experiment's data handling, serialisable as JSON.

    Args:
        dataset: dataset name.
        lookback: input steps ``L``.
        horizon: forecast steps ``H``.
        stride: step between consecutive window starts.
        split: ``(train, val, test)`` fractions of the time steps (chronological).
        split_dates: optional ``(val_start, test_start)`` dates; overrides ``split``.
        scaler: ``zscore``, ``zscore-node``, ``minmax``, ``max`` or ``none``.
        seed: random seed of the run.
        metrics: reported metrics.
        seasonal_periods: seasonal periods in steps (seasonal-naive uses the shortest one
            >= the horizon); ``None`` = those of the data's frequency
            (:func:`stgraph.data.calendar.seasonal_periods`), resolved by :meth:`fit`.
        slots: historical-average slot scheme (one of
            :data:`stgraph.data.calendar.SLOT_SCHEMES`); ``None`` = the frequency's default
            (:func:`stgraph.data.calendar.default_slots`), resolved by :meth:`fit`.
        bounds: resolved split boundaries (set by :meth:`fit`).
        scaler_state: fitted scaler statistics (set by :meth:`fit`).
    """

    dataset: str
    lookback: int = 12
    horizon: int = 12
    stride: int = 1
    split: tuple[float, float, float] = (0.7, 0.1, 0.2)
    split_dates: tuple[str, str] | None = None
    scaler: str = "zscore"
    seed: int = 0
    metrics: tuple[str, ...] = ("mae", "rmse", "mape")
    missing_rule: str = MISSING_RULE
    bounds: SplitBounds | None = None
    scaler_state: dict[str, Any] | None = field(default=None, repr=False)
    seasonal_periods: tuple[int, ...] | None = None
    slots: str | None = None

    def __post_init__(self) -> None:
        if self.slots is not None and self.slots not in SLOT_SCHEMES:
            raise ValueError(
                f"protocol: unknown slots {self.slots!r}; choose from {list(SLOT_SCHEMES)}"
            )
        if self.seasonal_periods is not None:
            periods = tuple(int(p) for p in self.seasonal_periods)
            if any(p < 1 for p in periods):
                raise ValueError(f"protocol: seasonal periods must be >= 1, got {periods}")
            object.__setattr__(self, "seasonal_periods", tuple(sorted(periods)))

    def calendar(
        self, data: SpatioTemporalData, bounds: SplitBounds | None = None
    ) -> tuple[tuple[int, ...], str]:
        """``(seasonal_periods, slots)``: the protocol's, or those of ``data.freq``. Daily
        data whose training split covers at least :data:`YEARS_FOR_DAY_OF_YEAR` years gets
        ``day_of_year`` slots (an annual climatology, as for weather) instead of
        ``day_of_week``."""
        periods = self.seasonal_periods
        slots = self.slots or default_slots(data.freq)
        b = bounds or self.bounds
        if self.slots is None and slots == "day_of_week" and b is not None and b.train_end > 0:
            span = data.timestamps[b.train_end - 1] - data.timestamps[0]
            if span >= pd.Timedelta(days=round(365.25 * YEARS_FOR_DAY_OF_YEAR)):
                slots = "day_of_year"
        return (seasonal_periods(data.freq) if periods is None else periods, slots)

    def resolve_bounds(self, data: SpatioTemporalData) -> SplitBounds:
        """Split boundaries for ``data`` (from dates when given, else fractions)."""
        if self.split_dates is not None:
            return bounds_from_dates(data.timestamps, *self.split_dates)
        return bounds_from_fractions(data.num_steps, self.split)

    def fit(self, data: SpatioTemporalData) -> Protocol:
        """Resolve the split boundaries, the seasonal periods and slot scheme, and fit the
        scaler on the training split's observed values only (time steps ``[0, train_end)``).
        Returns a new, fitted protocol.

        Warns:
            OutlierWarning: observed training values look like fill values
                (:func:`find_outliers`); the worst is named (node, feature, time, value).
        """
        b = self.resolve_bounds(data)
        v, m = data.values[: b.train_end], data.mask[: b.train_end]
        _warn_outliers(data, v, m)
        scaler = make_scaler(self.scaler).fit(v, m)
        periods, slots = self.calendar(data, b)
        return dataclasses.replace(
            self,
            bounds=b,
            scaler_state=scaler.state_dict(),
            seasonal_periods=periods,
            slots=slots,
        )

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` has run."""
        return self.bounds is not None and self.scaler_state is not None

    def get_scaler(self) -> Scaler:
        """The fitted scaler."""
        if self.scaler_state is None:
            raise RuntimeError("protocol is not fitted; call protocol.fit(data) first")
        return scaler_from_state(self.scaler_state)

    def windows(self, data: SpatioTemporalData, split: str) -> WindowDataset:
        """Window dataset of ``split`` (``train``, ``val`` or ``test``)."""
        if self.bounds is None:
            raise RuntimeError("protocol is not fitted; call protocol.fit(data) first")
        if self.bounds.num_steps != data.num_steps:
            raise ValueError(
                f"protocol was fitted on {self.bounds.num_steps} steps, {data.name!r} has "
                f"{data.num_steps}; its windows need the series it was fitted on (use "
                "forecast for new data)"
            )
        starts = window_starts(self.bounds, split, self.lookback, self.horizon, self.stride)
        return WindowDataset(data, starts, self.lookback, self.horizon)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON-serialisable)."""
        d = dataclasses.asdict(self)
        d["split"] = list(self.split)
        d["metrics"] = list(self.metrics)
        d["split_dates"] = None if self.split_dates is None else list(self.split_dates)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Protocol:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"protocol: unknown keys {sorted(unknown)}")
        kw = dict(d)
        if kw.get("bounds") is not None:
            kw["bounds"] = SplitBounds(**kw["bounds"])
        if kw.get("split") is not None:
            kw["split"] = tuple(kw["split"])
        if kw.get("split_dates") is not None:
            kw["split_dates"] = tuple(kw["split_dates"])
        for key in ("metrics", "seasonal_periods"):
            if kw.get(key) is not None:
                kw[key] = tuple(kw[key])
        return cls(**kw)

    def save(self, path: str | Path) -> None:
        """Write as JSON (atomically)."""
        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Protocol:
        """Read a protocol written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))


def _warn_outliers(data: SpatioTemporalData, values: torch.Tensor, mask: torch.Tensor) -> None:
    """Warn (:class:`OutlierWarning`) naming the largest training outlier, if any (one pass
    over time chunks; nothing of size ``T`` is kept)."""
    bounds = _outlier_bounds(values, mask)
    if not _may_have_outliers(bounds):
        return
    count, worst, worst_abs = 0, (0, 0, 0), -1.0
    for a, v, far in _outlier_chunks(values, mask, bounds):
        k = int(far.sum())
        if k == 0:
            continue
        count += k
        idx = torch.nonzero(far)
        i = int(v[far].abs().argmax())
        if float(v[far][i].abs()) > worst_abs:
            worst_abs, (t, n, f) = float(v[far][i].abs()), idx[i].tolist()
            worst = (a + t, n, f)
    if count == 0:
        return
    t, n, f = worst
    per_feature: list[list[int]] = [[] for _ in range(values.shape[-1])]
    total, _ = order_statistics(values, mask, per_feature)
    per_feature[f] = [(int(total[f]) - 1) // 2]  # torch's median: the lower middle value
    median = order_statistics(values, mask, per_feature)[1][f][0]
    warnings.warn(
        f"{data.name}: {count} observed training value(s) look like fill values, "
        f"e.g. node {data.graph.node_ids[n]!r}, feature {data.feature_names[f]!r} at "
        f"{data.timestamps[t]}: {float(values[t, n, f]):.6g} (feature median "
        f"{median:.6g}); mask them "
        "(mask=False) or they will dominate the scaler and the metrics",
        OutlierWarning,
        stacklevel=3,
    )
