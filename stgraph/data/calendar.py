"""Calendar covariates derived from timestamps (time of day, day of week)."""

from __future__ import annotations

import numpy as np
import pandas as pd

CALENDAR_NAMES = ("time_of_day", "day_of_week")


def steps_per_day(freq: pd.Timedelta) -> int:
    """Number of steps in one day for a regular frequency (e.g. 288 for 5 minutes); 1 for
    daily or coarser steps (weekly, or the mean-month step of monthly series).

    Raises:
        ValueError: when a sub-daily frequency does not divide a day (then there is no daily
            slot).
    """
    day = pd.Timedelta(days=1)
    if freq >= day:
        return 1
    if freq <= pd.Timedelta(0) or day % freq != pd.Timedelta(0):
        raise ValueError(f"frequency {freq} does not divide one day")
    return int(day // freq)


def calendar_features(timestamps: pd.DatetimeIndex) -> np.ndarray:
    """Time-of-day fraction in ``[0, 1)`` and day of week (Monday = 0 .. Sunday = 6).

    Args:
        timestamps: the series' time index.

    Shapes:
        output: [T, 1, 2] float32 (the node axis has size 1: shared by all nodes),
        channels ordered as :data:`CALENDAR_NAMES`.
    """
    ts = pd.DatetimeIndex(timestamps)
    seconds = (ts.hour * 3600 + ts.minute * 60 + ts.second).to_numpy(dtype=np.float64)
    tod = seconds / 86400.0
    dow = ts.day_of_week.to_numpy(dtype=np.float64)
    return np.stack([tod, dow], axis=-1).astype(np.float32)[:, None, :]
