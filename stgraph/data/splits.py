"""Chronological splits with no target leakage across splits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitBounds:
    """Time-step boundaries ``0 <= train_end <= val_end <= num_steps``.

    Targets of a ``train`` window lie in ``[0, train_end)``, of a ``val`` window in
    ``[train_end, val_end)`` and of a ``test`` window in ``[val_end, num_steps)``. Inputs may
    look back into an earlier split (they are in the past), never forward.
    """

    train_end: int
    val_end: int
    num_steps: int

    def __post_init__(self) -> None:
        if not 0 < self.train_end <= self.val_end <= self.num_steps:
            raise ValueError(
                f"split boundaries must satisfy 0 < train_end <= val_end <= T, got "
                f"train_end={self.train_end}, val_end={self.val_end}, T={self.num_steps}"
            )

    def target_range(self, split: str) -> tuple[int, int]:
        """``[lo, hi)`` time steps whose values may be targets of ``split`` windows."""
        ranges = {
            "train": (0, self.train_end),
            "val": (self.train_end, self.val_end),
            "test": (self.val_end, self.num_steps),
        }
        if split not in ranges:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        return ranges[split]


def bounds_from_fractions(
    num_steps: int, fractions: Sequence[float] = (0.7, 0.1, 0.2)
) -> SplitBounds:
    """Chronological boundaries from ``(train, val, test)`` fractions of the time steps.

    Example: ``T = 1000`` and ``(0.7, 0.1, 0.2)`` gives ``train_end=700, val_end=800``.
    """
    f = np.asarray(fractions, dtype=float)
    if f.shape != (3,) or (f < 0).any() or abs(f.sum() - 1.0) > 1e-6 or f[0] <= 0:
        raise ValueError(
            f"split fractions must be 3 non-negative numbers summing to 1, got {fractions}"
        )
    train_end = round(num_steps * f[0])
    val_end = round(num_steps * (f[0] + f[1]))
    return SplitBounds(int(train_end), int(val_end), num_steps)


def bounds_from_dates(timestamps: pd.DatetimeIndex, val_start: str, test_start: str) -> SplitBounds:
    """Boundaries from the first timestamp of the validation and of the test split."""
    ts = pd.DatetimeIndex(timestamps)
    a = int(ts.searchsorted(pd.Timestamp(val_start, tz=ts.tz)))
    b = int(ts.searchsorted(pd.Timestamp(test_start, tz=ts.tz)))
    return SplitBounds(a, b, len(ts))


def window_starts(
    bounds: SplitBounds, split: str, lookback: int, horizon: int, stride: int = 1
) -> np.ndarray:
    """Start indices ``s`` of windows whose targets ``[s + L, s + L + H)`` lie in ``split``.

    A window reads inputs ``[s, s + L)`` and targets ``[s + L, s + L + H)``; ``s >= 0``.

    Shapes:
        output: [num_windows] int64
    """
    if lookback < 1 or horizon < 1 or stride < 1:
        raise ValueError(
            f"lookback, horizon and stride must be >= 1, got {lookback}, {horizon}, {stride}"
        )
    lo, hi = bounds.target_range(split)
    first = max(lo - lookback, 0)
    last = hi - lookback - horizon  # inclusive
    if last < first:
        return np.zeros(0, dtype=np.int64)
    return np.arange(first, last + 1, stride, dtype=np.int64)
