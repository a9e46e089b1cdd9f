"""The protocol is saved as JSON and reproduces the same windows and scaler."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from stgraph.data import Protocol


def test_protocol_json_round_trip_preserves_everything(tiny_traffic, tmp_path):
    p = Protocol("tiny", lookback=6, horizon=3, stride=2, scaler="minmax", seed=7).fit(tiny_traffic)
    p.save(tmp_path / "protocol.json")
    d = json.loads((tmp_path / "protocol.json").read_text())
    for key in (
        "split",
        "lookback",
        "horizon",
        "stride",
        "scaler",
        "scaler_state",
        "missing_rule",
        "metrics",
        "seed",
        "bounds",
    ):
        assert key in d
    q = Protocol.load(tmp_path / "protocol.json")
    assert q == p
    for split in ("train", "val", "test"):
        assert (
            q.windows(tiny_traffic, split).starts == p.windows(tiny_traffic, split).starts
        ).all()
    x = tiny_traffic.values[:5]
    assert torch.equal(q.get_scaler().transform(x), p.get_scaler().transform(x))


def test_unfitted_protocol_refuses_windows(tiny_traffic):
    with pytest.raises(RuntimeError, match="not fitted"):
        Protocol("tiny").windows(tiny_traffic, "train")
    with pytest.raises(ValueError, match="unknown keys"):
        Protocol.from_dict({"dataset": "x", "lokback": 3})


def test_date_split_overrides_fractions(tiny_traffic):
    p = Protocol("tiny", split_dates=("2024-01-02", "2024-01-03")).fit(tiny_traffic)
    assert p.bounds.train_end == 288 and p.bounds.val_end == 576


def test_protocol_records_the_calendar_and_reads_base_protocols(tiny_traffic, tmp_path):
    p = Protocol("tiny").fit(tiny_traffic)  # 5-min data: day and week, time of week
    assert (p.seasonal_periods, p.slots) == ((288, 2016), "time_of_week")
    p.save(tmp_path / "protocol.json")
    d = json.loads((tmp_path / "protocol.json").read_text())
    assert d["seasonal_periods"] == [288, 2016] and d["slots"] == "time_of_week"
    set_by_user = Protocol("tiny", seasonal_periods=(12,), slots="time_of_day").fit(tiny_traffic)
    assert (set_by_user.seasonal_periods, set_by_user.slots) == ((12,), "time_of_day")
    with pytest.raises(ValueError, match="unknown slots 'hourly'"):
        Protocol("tiny", slots="hourly")
    # a protocol.json written before the calendar fields existed still loads
    del d["seasonal_periods"], d["slots"]
    old = Protocol.from_dict(d)
    assert old.is_fitted and old.calendar(tiny_traffic) == ((288, 2016), "time_of_week")


def make_series(values, name="fills"):
    from stgraph.data import SpatioTemporalData
    from stgraph.graph import SensorGraph

    v = np.asarray(values, dtype=np.float32)
    g = SensorGraph(["s0", "s1"], np.zeros((2, 0), dtype=int))
    ts = pd.date_range("2024-01-01", periods=len(v), freq="h")
    return SpatioTemporalData(v, None, ts, g, feature_names=("flow", "speed"), name=name)


def test_absurd_training_value_warns_naming_node_feature_time_and_value():
    from stgraph.data import OutlierWarning

    rng = np.random.default_rng(0)
    v = np.stack([rng.uniform(0, 500, (200, 2)), rng.uniform(20, 70, (200, 2))], -1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutlierWarning)
        Protocol("fills").fit(make_series(v))  # heavy but real values: no warning
    v[50, 1, 1] = 1e30  # a fill value in the training split
    with pytest.warns(
        OutlierWarning, match=r"node 's1', feature 'speed' at 2024-01-03 02:00:00: 1e\+30"
    ):
        Protocol("fills").fit(make_series(v))
    v[50, 1, 1] = 60.0
    v[190, 0, 0] = 1e30  # in the test split: not the protocol's business
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutlierWarning)
        Protocol("fills").fit(make_series(v))


@pytest.mark.realdata
@pytest.mark.filterwarnings("ignore::stgraph.graph.IsolatedNodesWarning")
@pytest.mark.parametrize(
    "name", ["beijing-air-quality", "noaa-weather", "england-covid", "sz-taxi"]
)
def test_real_datasets_raise_no_outlier_alarm(data_root, name):
    from stgraph.data import OutlierWarning, load_dataset

    data = load_dataset(name, data_root)
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutlierWarning)
        Protocol(name, split=(0.98, 0.01, 0.01)).fit(data)  # hourly rain up to 72.5 mm


def test_daily_slots_are_day_of_year_once_training_covers_two_years():
    from stgraph.data import SpatioTemporalData
    from stgraph.graph import SensorGraph

    def daily(days):
        g = SensorGraph(["a", "b"], np.zeros((2, 0), dtype=int))
        ts = pd.date_range("2020-01-01", periods=days, freq="D")
        return SpatioTemporalData(torch.ones(days, 2, 1), None, ts, g)

    assert Protocol("x", lookback=7, horizon=1).fit(daily(61)).slots == "day_of_week"
    long = daily(4 * 365)  # training split: 70% = 2.8 years
    assert Protocol("x", lookback=7, horizon=1).fit(long).slots == "day_of_year"
    chosen = Protocol("x", lookback=7, horizon=1, slots="day_of_week").fit(long)
    assert chosen.slots == "day_of_week"
