"""SpatioTemporalData validation and calendar covariates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stgraph.data import SpatioTemporalData
from stgraph.data.calendar import calendar_features, steps_per_day
from stgraph.graph import SensorGraph

G = SensorGraph(["a", "b"], [[0], [1]])
TS = pd.date_range("2024-01-06 23:00", periods=4, freq="30min")  # a Saturday


def test_nan_becomes_masked_zero():
    v = np.array([[1, np.nan], [2, 3], [np.inf, 4], [5, 6]], dtype=float)[..., None]
    d = SpatioTemporalData(v, None, TS, G)
    assert d.mask[:, :, 0].tolist() == [[True, False], [True, True], [False, True], [True, True]]
    assert float(d.values[0, 1, 0]) == 0.0 and d.missing_fraction == pytest.approx(0.25)


def test_calendar_covariates():
    cal = calendar_features(TS)[:, 0]
    assert cal[:, 0].tolist() == pytest.approx([23 / 24, 23.5 / 24, 0.0, 0.5 / 24])
    assert cal[:, 1].tolist() == [5, 5, 6, 6]
    assert steps_per_day(pd.Timedelta("5min")) == 288 and steps_per_day(pd.Timedelta("7D")) == 1
    with pytest.raises(ValueError, match="does not divide"):
        steps_per_day(pd.Timedelta("7min"))


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (dict(values=np.zeros((4, 3, 1))), "graph has 2 nodes, values have 3"),
        (dict(values=np.zeros((4, 2))), "values must be \\[T, N, F\\]"),
        (dict(timestamps=TS[[0, 1, 3, 2]]), "not regular"),
        (dict(timestamps=TS[:3]), "3 timestamps for 4"),
        (dict(feature_names=("a", "b")), "2 feature names for 1"),
    ],
)
def test_invalid_data_is_rejected(kw, message):
    args = dict(values=np.zeros((4, 2, 1)), mask=None, timestamps=TS, graph=G)
    args.update(kw)
    with pytest.raises(ValueError, match=message):
        SpatioTemporalData(**args)


def test_user_covariates_follow_calendar_channels():
    d = SpatioTemporalData(
        np.zeros((4, 2, 1)), None, TS, G, covariates=np.ones((4, 2, 1)), covariate_names=("temp",)
    )
    assert d.covariate_names == ("time_of_day", "day_of_week", "temp")
    assert d.covariates.shape == (4, 2, 3)


@pytest.mark.parametrize(("freq", "name"), [("MS", "MS"), ("QS", "QS-JAN"), ("YS", "YS-JAN"),
                                            ("W-SUN", "W-SUN"), ("ME", "ME")])  # fmt: skip
def test_calendar_months_quarters_years_and_weeks_are_regular_series(freq, name):
    ts = pd.date_range("2020-01-01", periods=4, freq=freq)
    d = SpatioTemporalData(np.zeros((4, 2, 1)), None, ts, G)
    assert d.freq_str == name and d.steps_per_day == 1
    assert d.timestamps[-1] + d.freq == pd.date_range(ts[0], periods=5, freq=freq)[-1]
    assert tuple(d.covariates.shape) == (4, 1, 2)  # the calendar covariates keep their shape


def test_given_frequency_is_checked_and_named_gaps_are_refused():
    months = pd.DatetimeIndex(["2020-01-01", "2020-02-01", "2020-04-01", "2020-05-01"])
    with pytest.raises(ValueError, match=r"2020-02-01 00:00:00 -> 2020-04-01"):
        SpatioTemporalData(np.zeros((4, 2, 1)), None, months, G)
    with pytest.raises(ValueError, match=r"step 1: 2020-02-01 00:00:00 -> 2020-04-01.*2020-03-01"):
        SpatioTemporalData(np.zeros((4, 2, 1)), None, months, G, freq="MS")
    one = SpatioTemporalData(np.zeros((1, 2, 1)), None, TS[:1], G, freq="30min")
    assert one.freq_str == "30min" and one.select_features(["value"]).freq_str == "30min"
    with pytest.raises(ValueError, match="single time step has no frequency"):
        SpatioTemporalData(np.zeros((1, 2, 1)), None, TS[:1], G)
