"""The calendar: sampling frequencies, seasonal periods, seasonal slots and calendar covariates.

A frequency is a pandas offset: fixed steps (``"5min"``, ``"h"``, ``"D"``) and weeks (``"W-MON"``)
have a constant length; calendar months, quarters and years (``"MS"``, ``"QS"``, ``"YS"``,
``"ME"``...) use month arithmetic, never a mean month. Slots are integer arithmetic only.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

CALENDAR_NAMES = ("time_of_day", "day_of_week")

#: historical-average slot schemes -> number of slots (``None``: set by the step).
SLOT_SCHEMES: dict[str, int | None] = {
    "time_of_week": None,
    "time_of_day": None,
    "day_of_week": 7,
    "day_of_year": 366,
    "week_of_year": 53,
    "month_of_year": 12,
    "none": 1,
}
#: the next coarser scheme, used for slots never seen in training.
COARSER = {"time_of_week": "time_of_day", "day_of_year": "month_of_year"}

_NS_DAY = 86_400 * 10**9
_NS_WEEK = 7 * _NS_DAY
_MONTHLY = {  # months per step of n = 1
    **dict.fromkeys((pd.offsets.MonthBegin, pd.offsets.MonthEnd), 1),
    **dict.fromkeys((pd.offsets.QuarterBegin, pd.offsets.QuarterEnd), 3),
    **dict.fromkeys((pd.offsets.YearBegin, pd.offsets.YearEnd), 12),
}


def _fixed(step_ns: int, anchor: pd.Timestamp | None = None) -> pd.DateOffset:
    """Offset of a constant step: whole days -> ``Day(k)`` (a week starting at midnight ->
    ``Week(weekday)``), shorter or fractional steps -> a ``Tick``."""
    if step_ns % _NS_DAY:
        return to_offset(pd.Timedelta(step_ns, unit="ns"))
    if step_ns == _NS_WEEK and anchor is not None and anchor == anchor.normalize():
        return pd.offsets.Week(weekday=anchor.weekday())
    return pd.offsets.Day(step_ns // _NS_DAY)


def _step_ns(off: pd.DateOffset) -> int | None:
    """Length of one step in nanoseconds; ``None`` for calendar months, quarters and years."""
    if isinstance(off, pd.offsets.Week):
        return off.n * _NS_WEEK
    if isinstance(off, (pd.offsets.Tick, pd.offsets.Day)):
        return int(off.nanos)
    return None


def months_per_step(freq: str | pd.DateOffset) -> int | None:
    """Calendar months per step (1 for ``"MS"``, 3 for ``"QS"``, 12 for ``"YS"``); ``None``
    for fixed-length steps."""
    off = parse_freq(freq)
    return None if _step_ns(off) is not None else off.n * _MONTHLY[type(off)]


def parse_freq(freq: str | pd.Timedelta | pd.DateOffset) -> pd.DateOffset:
    """A frequency as a pandas offset: ``"5min"``, ``"h"``, ``"D"``, ``"7D"``, ``"W-MON"``,
    ``"MS"`` / ``"1MS"`` (month starts, never milliseconds), ``"QS"``, ``"YS"``, ``"ME"``...
    or a ``pd.Timedelta``.

    Raises:
        ValueError: unparsable, non-positive, ambiguous (``"M"``, ``"m"``: minutes or
            months?) or unsupported (business days, ...) frequencies.
    """
    if isinstance(freq, pd.Timedelta):
        off = None if freq <= pd.Timedelta(0) else _fixed(freq.as_unit("ns").value)
    elif isinstance(freq, str):
        if re.fullmatch(r"\s*\d*\s*[mM]\s*", freq):
            raise ValueError(
                f"frequency {freq!r} is ambiguous: use 'min' for minutes or 'MS' / 'ME' for "
                "calendar months"
            )
        try:
            off = to_offset(freq)
        except ValueError:
            try:
                off = parse_freq(pd.Timedelta(freq))
            except ValueError:
                raise ValueError(
                    f"cannot read frequency {freq!r} (use e.g. '5min', 'h', 'D', 'W-MON', 'MS')"
                ) from None
    else:
        off = to_offset(freq)
    if off is None or off.n <= 0:
        raise ValueError(f"frequency must be positive, got {freq!r}")
    step = _step_ns(off)
    if step is None and type(off) not in _MONTHLY:
        raise ValueError(
            f"unsupported frequency {off.freqstr!r}: use a fixed step ('5min', 'h', 'D'), "
            "weeks ('W-MON') or calendar months, quarters, years ('MS', 'QS', 'YS', 'ME'...)"
        )
    if isinstance(off, pd.offsets.Tick) and step is not None and step % _NS_DAY == 0:
        off = _fixed(step)  # "24h" reads as one day
    return off


def _gap(ts: pd.DatetimeIndex, k: int) -> str:
    return f"{ts[k]} -> {ts[k + 1]}"


def _month_ordinal(ts: pd.DatetimeIndex) -> np.ndarray:
    return (ts.year * 12 + ts.month - 1).to_numpy(dtype=np.int64)


def _monthly_offset(months: int, first: pd.Timestamp, end: bool) -> pd.DateOffset:
    """``MS``/``QS``/``YS`` (or ``ME``/``QE``/``YE``) of ``months`` per step, anchored at
    ``first``'s month."""
    if months % 12 == 0:
        cls = pd.offsets.YearEnd if end else pd.offsets.YearBegin
        return cls(months // 12, month=first.month)
    if months % 3 == 0:
        cls = pd.offsets.QuarterEnd if end else pd.offsets.QuarterBegin
        return cls(months // 3, startingMonth=(first.month - 1) % 3 + 1)
    return (pd.offsets.MonthEnd if end else pd.offsets.MonthBegin)(months)


def infer_freq(timestamps: pd.DatetimeIndex, *, regular: bool = True) -> pd.DateOffset:
    """The frequency of a time index, calendar months, quarters, years and weeks included.

    Timestamps that all fall on month starts (or all on month ends) at the same time of day
    are calendar months, quarters or years; a constant 7-day step from midnight is a week
    (``W-<day>``); any other constant step is fixed (``Day(k)`` or a ``Tick``).

    Args:
        timestamps: the time index.
        regular: ``True``: every gap must be exactly one step (a series on its grid).
            ``False`` (raw readings): fixed steps are the most common gap, which must cover
            at least half of the gaps (jittered sub-daily readings are binned later); for
            daily and coarser steps every gap must be a whole number of steps (missing steps
            are allowed, merged ones are not).

    Raises:
        ValueError: fewer than two distinct timestamps, or irregular/ambiguous timestamps;
            the message names the offending gap.
    """
    ts = pd.DatetimeIndex(timestamps)
    if not regular:
        ts = ts.unique().sort_values()
    if len(ts) < 2:
        raise ValueError("need at least two distinct timestamps to infer the frequency; pass freq")
    ns = ts.as_unit("ns").asi8
    steps = np.diff(ns)
    if (steps <= 0).any():
        k = int(np.flatnonzero(steps <= 0)[0])
        raise ValueError(f"timestamps are not regular and increasing (step {k}: {_gap(ts, k)})")
    tod = (ts - ts.normalize()).as_unit("ns").asi8
    for end, on in ((False, ts.is_month_start), (True, ts.is_month_end)):
        if on.all() and (tod == tod[0]).all():
            dm = np.diff(_month_ordinal(ts))
            m = int(pd.Series(dm).mode().min())
            bad = np.flatnonzero(dm != m) if regular else np.flatnonzero(dm % m)
            if len(bad):
                k = int(bad[0])
                raise ValueError(
                    f"calendar steps of {m} month(s) are broken at step {k}: {_gap(ts, k)}"
                )
            return _monthly_offset(m, ts[0], end)
    values, counts = np.unique(steps, return_counts=True)
    step = int(values[np.argmax(counts)])
    if regular:
        bad = np.flatnonzero(steps != step)
    elif step >= _NS_DAY:
        bad = np.flatnonzero(steps % step)
    else:
        bad = np.array([], dtype=np.int64)
        if counts.max() < 0.5 * len(steps):
            raise ValueError(
                f"timestamps are irregular (most common step {pd.Timedelta(step)} covers "
                f"{counts.max()} of {len(steps)} gaps); pass freq='1h' (or similar)"
            )
    if len(bad):
        k = int(bad[0])
        monthly = 28 * _NS_DAY <= steps[k] <= 31 * _NS_DAY
        hint = (
            "; calendar months? stamp them on month starts or pass freq='MS'"
            if monthly
            else "; resample first or pass freq="
        )
        raise ValueError(
            f"timestamps are not regular (step {pd.Timedelta(step)}, but step {k}: "
            f"{_gap(ts, k)}){hint}"
        )
    return _fixed(step, ts[0])


def check_regular(timestamps: pd.DatetimeIndex, freq: str | pd.DateOffset) -> None:
    """Raise ``ValueError`` naming the first gap unless ``timestamps[k + 1] == timestamps[k] +
    freq`` for every ``k`` (and the first stamp lies on an anchored offset)."""
    ts, off = pd.DatetimeIndex(timestamps), parse_freq(freq)
    if len(ts) == 0:
        return
    want = pd.date_range(ts[0], periods=len(ts), freq=off)
    bad = np.flatnonzero(want.as_unit("ns").asi8 != ts.as_unit("ns").asi8)
    if len(bad):
        k = int(bad[0])
        where = f"first stamp {ts[0]}" if k == 0 else f"step {k - 1}: {_gap(ts, k - 1)}"
        raise ValueError(
            f"timestamps are not regular and increasing at frequency {off.freqstr} ({where}, "
            f"expected {want[k]})"
        )


def grid_positions(
    times: pd.DatetimeIndex, freq: str | pd.DateOffset
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """The regular grid covering ``times`` and the step holding each time.

    Fixed steps: the grid starts at the earliest time floored to the step (weeks: to
    midnight of the offset's weekday). Calendar steps: at the period holding the earliest
    time; a period-start offset (``MS``) labels a period by its first day, a period-end one
    (``ME``) by its last day.

    Shapes:
        times: [R] -> (grid [T], positions [R] int64 in ``[0, T)``)
    """
    ts, off = pd.DatetimeIndex(times), parse_freq(freq)
    step = _step_ns(off)
    if step is not None:
        first = ts.min()
        if isinstance(off, pd.offsets.Week) and off.weekday is not None:
            day = first.normalize()
            start = day - pd.Timedelta(days=(day.weekday() - off.weekday) % 7)
        else:
            start = first.floor(pd.Timedelta(step, unit="ns"))
        pos = (ts.as_unit("ns").asi8 - start.value) // step
        return pd.date_range(start, periods=int(pos.max()) + 1, freq=off), pos
    base = _MONTHLY[type(off)]
    months = off.n * base
    phase = {1: 0, 3: (getattr(off, "startingMonth", 1) - 1) % 3, 12: getattr(off, "month", 1) - 1}
    ords = _month_ordinal(ts)
    lo, r = int(ords.min()), phase[base]
    end = isinstance(off, (pd.offsets.MonthEnd, pd.offsets.QuarterEnd, pd.offsets.YearEnd))
    if end:
        first_ord = lo + (r - lo) % base
        pos = -((first_ord - ords) // months)
    else:
        first_ord = lo - (lo - r) % base
        pos = (ords - first_ord) // months
    g = first_ord + months * np.arange(int(pos.max()) + 1)
    grid = pd.to_datetime(pd.DataFrame({"year": g // 12, "month": g % 12 + 1, "day": 1}))
    grid = pd.DatetimeIndex(grid) + (pd.offsets.MonthEnd(0) if end else pd.offsets.Day(0))
    return grid, pos


def steps_per_day(freq: str | pd.Timedelta | pd.DateOffset) -> int:
    """Number of steps in one day (e.g. 288 for 5 minutes); 1 for daily or coarser steps;
    ``ValueError`` when a sub-daily step does not divide a day."""
    step = _step_ns(parse_freq(freq))
    if step is None or step >= _NS_DAY:
        return 1
    if _NS_DAY % step:
        raise ValueError(f"frequency {pd.Timedelta(step)} does not divide one day")
    return _NS_DAY // step


def step_duration(freq: str | pd.DateOffset) -> pd.Timedelta | None:
    """Length of one step; ``None`` for calendar months, quarters and years."""
    step = _step_ns(parse_freq(freq))
    return None if step is None else pd.Timedelta(step, unit="ns")


def seasonal_periods(freq: str | pd.DateOffset) -> tuple[int, ...]:
    """Seasonal periods in steps, shortest first: sub-daily -> (day, week) (those the step
    divides); daily and longer fixed steps -> (week if the step divides it, year rounded to
    whole steps); calendar months -> 12 / months per step (12 for monthly, 4 for quarterly);
    years -> none."""
    months = months_per_step(freq)
    if months is not None:
        return (12 // months,) if 12 % months == 0 and months < 12 else ()
    step = _step_ns(parse_freq(freq))
    assert step is not None
    if step < _NS_DAY:
        return tuple(p // step for p in (_NS_DAY, _NS_WEEK) if p % step == 0)
    out = [_NS_WEEK // step] if _NS_WEEK % step == 0 and step < _NS_WEEK else []
    year = round(365.25 * _NS_DAY / step)
    return tuple([*out, year] if year >= 2 else out)


def default_slots(freq: str | pd.DateOffset) -> str:
    """Historical-average slot scheme of a frequency: sub-daily -> ``time_of_week`` (time of
    day x weekday), daily -> ``day_of_week``, 2-6 days -> ``day_of_year``, weekly ->
    ``week_of_year``, monthly / quarterly (or a fixed step of 28 days or more) ->
    ``month_of_year``, yearly -> ``none``."""
    months = months_per_step(freq)
    if months is not None:
        return "month_of_year" if months < 12 else "none"
    step = _step_ns(parse_freq(freq))
    assert step is not None
    for limit, scheme in (
        (_NS_DAY, "time_of_week"),
        (_NS_DAY + 1, "day_of_week"),
        (_NS_WEEK, "day_of_year"),
        (28 * _NS_DAY, "week_of_year"),
        (366 * _NS_DAY, "month_of_year"),
    ):
        if step < limit:
            return scheme
    return "none"


def slot_index(
    timestamps: pd.DatetimeIndex, scheme: str, freq: str | pd.DateOffset
) -> tuple[np.ndarray, int]:
    """Seasonal slot of each timestamp, by exact integer arithmetic.

    ``time_of_week``: the step of the week (Monday 00:00 = slot 0) holding the stamp,
    ``time_of_day``: the step of the day; both need a fixed sub-weekly step. ``day_of_week``
    (Monday = 0), ``day_of_year`` (1 January = 0), ``week_of_year`` (ISO week - 1),
    ``month_of_year`` (January = 0), ``none`` (one slot).

    Returns:
        ``(slots, num_slots)`` with slots int64 in ``[0, num_slots)``.

    Shapes:
        timestamps: [T] -> slots: [T]
    """
    if scheme not in SLOT_SCHEMES:
        raise ValueError(f"unknown slot scheme {scheme!r}; choose from {sorted(SLOT_SCHEMES)}")
    ts = pd.DatetimeIndex(timestamps)
    if scheme in ("time_of_week", "time_of_day"):
        step = _step_ns(parse_freq(freq))
        period = _NS_WEEK if scheme == "time_of_week" else _NS_DAY
        if step is None or step >= period:
            raise ValueError(f"slot scheme {scheme!r} needs a step shorter than its period")
        ns = (ts - ts.normalize()).as_unit("ns").asi8
        if scheme == "time_of_week":
            ns = ns + ts.day_of_week.to_numpy(dtype=np.int64) * _NS_DAY
        return ns // step, -(-period // step)
    fields = {
        "day_of_week": lambda: ts.day_of_week,
        "day_of_year": lambda: ts.day_of_year - 1,
        "week_of_year": lambda: ts.isocalendar().week.to_numpy() - 1,
        "month_of_year": lambda: ts.month - 1,
        "none": lambda: np.zeros(len(ts)),
    }
    size = SLOT_SCHEMES[scheme]
    assert size is not None
    return np.asarray(fields[scheme](), dtype=np.int64), size


def future_timestamps(
    last: pd.Timestamp, freq: str | pd.DateOffset, steps: int
) -> pd.DatetimeIndex:
    """The ``steps`` timestamps after ``last`` (e.g. the forecast's target times)."""
    off = parse_freq(freq)
    return pd.date_range(pd.Timestamp(last) + off, periods=steps, freq=off)


def horizon_label(freq: str | pd.DateOffset | None, k: int) -> str:
    """Short column label of ``k`` steps ahead: ``"15m"``, ``"60m"``, ``"2h"``, ``"2d"`` for
    fixed steps (the metrics tables' labels), ``"2w"`` for weeks, ``"3mo"`` / ``"1y"`` for
    calendar months and years, ``"@k"`` when no unit fits."""
    if freq is None:
        return f"@{k}"
    off = parse_freq(freq)
    months = months_per_step(off)
    if months is not None:
        m = k * months
        return f"{m // 12}y" if m % 12 == 0 else f"{m}mo"
    if isinstance(off, pd.offsets.Week):
        return f"{k * off.n}w"
    step = _step_ns(off)
    assert step is not None
    total = k * step
    if step >= _NS_DAY:
        return f"{total // _NS_DAY}d" if total % _NS_DAY == 0 else f"@{k}"
    for size, unit in ((_NS_DAY, "d"), (3600 * 10**9, "h")):
        if total >= 2 * size and total % size == 0:
            return f"{total // size}{unit}"
    return f"{total / 60e9:g}m" if total < 2 * _NS_DAY else f"@{k}"


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
