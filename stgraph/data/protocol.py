"""The evaluation protocol: splits, window sizes, scaler and missing-value rule, saved as JSON."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stgraph._atomic import atomic_write_text
from stgraph.data.scalers import Scaler, make_scaler, scaler_from_state
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.data.splits import SplitBounds, bounds_from_dates, bounds_from_fractions, window_starts
from stgraph.data.windows import WindowDataset

MISSING_RULE = (
    "missing entries (mask == False) are excluded from scaler statistics, losses and metrics; "
    "in model inputs they are 0 after scaling (the training mean for z-score scalers); MAPE "
    "also skips targets with |y| < 1e-6"
)


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

    def resolve_bounds(self, data: SpatioTemporalData) -> SplitBounds:
        """Split boundaries for ``data`` (from dates when given, else fractions)."""
        if self.split_dates is not None:
            return bounds_from_dates(data.timestamps, *self.split_dates)
        return bounds_from_fractions(data.num_steps, self.split)

    def fit(self, data: SpatioTemporalData) -> Protocol:
        """Resolve the split boundaries and fit the scaler on the training split's observed
        values only (time steps ``[0, train_end)``). Returns a new, fitted protocol."""
        b = self.resolve_bounds(data)
        scaler = make_scaler(self.scaler).fit(data.values[: b.train_end], data.mask[: b.train_end])
        return dataclasses.replace(self, bounds=b, scaler_state=scaler.state_dict())

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
                f"protocol was fitted on {self.bounds.num_steps} steps, data has {data.num_steps}"
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
        if kw.get("metrics") is not None:
            kw["metrics"] = tuple(kw["metrics"])
        return cls(**kw)

    def save(self, path: str | Path) -> None:
        """Write as JSON (atomically)."""
        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Protocol:
        """Read a protocol written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))
