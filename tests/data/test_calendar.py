"""The calendar: frequencies (calendar months included), seasonal periods, exact slots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stgraph.data.calendar import (
    check_regular,
    default_slots,
    future_timestamps,
    grid_positions,
    horizon_label,
    infer_freq,
    parse_freq,
    seasonal_periods,
    slot_index,
    steps_per_day,
)

MONTHS = pd.date_range("2018-01-01", periods=72, freq="MS")


@pytest.mark.parametrize(
    ("text", "canonical", "after_jan_31"),
    [
        ("MS", "MS", "2024-02-01"),
        ("1MS", "MS", "2024-02-01"),  # one month start, never one millisecond
        ("ME", "ME", "2024-02-29"),
        ("QS", "QS-JAN", "2024-04-01"),
        ("YS", "YS-JAN", "2025-01-01"),
        ("W-MON", "W-MON", "2024-02-05"),
        ("5min", "5min", "2024-01-31 00:05"),
        ("24h", "D", "2024-02-01"),
        ("1 hour", "h", "2024-01-31 01:00"),
    ],
)
def test_parse_freq_steps_to_the_next_calendar_stamp(text, canonical, after_jan_31):
    off = parse_freq(text)
    assert off.freqstr == canonical
    assert pd.Timestamp("2024-01-31") + off == pd.Timestamp(after_jan_31)


@pytest.mark.parametrize(("text", "message"), [("M", "ambiguous"), ("1m", "ambiguous"),
                                               ("B", "unsupported"), ("0min", "positive"),
                                               ("fortnightly", "cannot read")])  # fmt: skip
def test_parse_freq_refuses_ambiguous_and_unsupported_steps(text, message):
    with pytest.raises(ValueError, match=message):
        parse_freq(text)


@pytest.mark.parametrize(
    ("freq", "want"),
    [("MS", "MS"), ("ME", "ME"), ("QS", "QS-JAN"), ("QS-FEB", "QS-FEB"), ("YS", "YS-JAN"),
     ("W-WED", "W-WED"), ("D", "D"), ("5min", "5min"), ("2MS", "2MS")],
)  # fmt: skip
def test_infer_freq_recovers_calendar_and_fixed_steps(freq, want):
    ts = pd.date_range("2019-01-01", periods=30, freq=freq)
    assert infer_freq(ts).freqstr == want
    check_regular(ts, infer_freq(ts))


def test_infer_freq_names_the_gap_instead_of_merging_steps():
    with pytest.raises(ValueError, match=r"step 4: 2018-05-01 00:00:00 -> 2018-07-01"):
        infer_freq(MONTHS.delete(5))
    mid_month = MONTHS + pd.Timedelta(days=14)  # 28..31-day gaps, not month anchors
    with pytest.raises(ValueError, match=r"2018-02-15 00:00:00 -> 2018-03-15.*freq='MS'"):
        infer_freq(mid_month)
    with pytest.raises(ValueError, match=r"2018-02-15 00:00:00 -> 2018-03-15"):
        infer_freq(mid_month, regular=False)
    # raw readings may miss a month: the gap is a whole number of steps
    assert infer_freq(MONTHS.delete(5), regular=False).freqstr == "MS"


def test_grid_positions_put_each_stamp_in_its_calendar_period():
    t = pd.DatetimeIndex(["2024-01-15", "2024-02-03", "2024-02-20", "2024-05-31 23:00"])
    grid, pos = grid_positions(t, "MS")
    assert list(grid.strftime("%m-%d")) == ["01-01", "02-01", "03-01", "04-01", "05-01"]
    assert pos.tolist() == [0, 1, 1, 4]
    grid, pos = grid_positions(t, "QE")
    assert list(grid.strftime("%m-%d")) == ["03-31", "06-30"] and pos.tolist() == [0, 0, 0, 1]
    grid, pos = grid_positions(t, "W-MON")
    assert grid[0] == pd.Timestamp("2024-01-15") and pos.tolist() == [0, 2, 5, 19]


def test_seasonal_periods_and_default_slots_follow_the_frequency():
    assert seasonal_periods("5min") == (288, 2016) and default_slots("5min") == "time_of_week"
    assert seasonal_periods("D") == (7, 365) and default_slots("D") == "day_of_week"
    assert seasonal_periods("W-MON") == (52,) and default_slots("W-MON") == "week_of_year"
    assert seasonal_periods("MS") == (12,) and default_slots("MS") == "month_of_year"
    assert seasonal_periods("QS") == (4,) and seasonal_periods("YS") == ()
    assert default_slots("YS") == "none"
    assert steps_per_day("MS") == 1 and steps_per_day(pd.Timedelta("15min")) == 96


def test_one_minute_week_has_exact_time_of_week_slots():
    ts = pd.date_range("2024-01-01", periods=7 * 1440, freq="min")  # Monday
    slots, size = slot_index(ts, "time_of_week", ts.freq)
    assert size == 10080 and np.array_equal(slots, np.arange(10080))
    slots, size = slot_index(ts, "time_of_day", "min")
    assert size == 1440 and np.array_equal(slots, np.arange(10080) % 1440)
    # a grid offset from midnight keeps one slot per step
    shifted, _ = slot_index(ts + pd.Timedelta(seconds=30), "time_of_week", "min")
    assert np.array_equal(shifted, np.arange(10080))


def test_monthly_series_has_exact_month_of_year_slots():
    slots, size = slot_index(MONTHS, "month_of_year", "MS")
    assert size == 12 and np.array_equal(slots, np.arange(72) % 12)
    with pytest.raises(ValueError, match="needs a step shorter"):
        slot_index(MONTHS, "time_of_week", "MS")


def test_future_timestamps_and_horizon_labels():
    fut = future_timestamps(MONTHS[-1], "MS", 3)
    assert list(fut.strftime("%Y-%m")) == ["2024-01", "2024-02", "2024-03"]
    assert list(future_timestamps(pd.Timestamp("2024-01-01 23:55"), "5min", 2).minute) == [0, 5]
    # the metrics tables' labels for sub-daily steps are unchanged
    assert [horizon_label("5min", k) for k in (3, 6, 12, 24, 576)] == [
        "15m", "30m", "60m", "2h", "2d"
    ]  # fmt: skip
    assert horizon_label("D", 7) == "7d" and horizon_label("W-MON", 2) == "2w"
    assert horizon_label("MS", 3) == "3mo" and horizon_label("MS", 24) == "2y"
    assert horizon_label("QS", 1) == "3mo" and horizon_label(None, 4) == "@4"
