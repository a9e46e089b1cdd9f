"""Bring your own data: long/wide frames + station tables -> SpatioTemporalData."""

from __future__ import annotations

from functools import partial

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from stgraph.data import from_long_dataframe, from_wide_dataframe, to_regular_grid
from stgraph.data.frames import infer_frequency
from stgraph.graph import SensorGraph

STATIONS = pd.DataFrame(
    {
        "station": ["a", "b", "c", "d"],
        "lon": [116.30, 116.40, 116.50, 116.42],
        "lat": [39.90, 39.95, 40.00, 39.80],
        "elevation": [40, 45, 50, 42],
    }
)


#: the common call: station readings of PM2.5 in a long frame
pm25 = partial(from_long_dataframe, time="time", node="station", values=["pm25"])


def long_frame(hours: int = 24, jitter: bool = True, skip=(("b", 5),)) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for t in pd.date_range("2024-03-01", periods=hours, freq="1h"):
        for s in "abc":
            if (s, t.hour) in skip:
                continue
            stamp = t + pd.Timedelta(seconds=int(rng.integers(0, 600))) if jitter else t
            rows.append((stamp, s, float(rng.uniform(0, 100)), float(t.hour), int(t.day_of_week)))
    return pd.DataFrame(rows, columns=["time", "station", "pm25", "temp", "dow"])


def test_irregular_timestamps_go_to_a_grid_and_gaps_are_masked():
    df = long_frame()
    d = from_long_dataframe(
        df,
        time="time",
        node="station",
        values=["pm25", "temp"],
        stations=STATIONS.iloc[:3],
        freq="1h",
        k=2,
    )
    assert tuple(d.values.shape) == (24, 3, 2) and d.freq == pd.Timedelta("1h")
    b = d.graph.node_ids.index("b")
    assert not d.mask[5, b].any() and int((~d.mask).sum()) == 2  # the skipped reading only
    assert float(d.values[5, b].abs().sum()) == 0.0  # zeros + mask, never filled
    first = df[(df.station == "a")].iloc[0]
    assert float(d.values[0, d.graph.node_ids.index("a"), 0]) == pytest.approx(first.pm25)
    assert d.nodes.loc["a", "elevation"] == 40 and d.graph.crs == "EPSG:4326"


def test_several_readings_in_one_slot_are_averaged_and_frequency_is_inferred():
    df = pd.DataFrame(
        {
            "time": pd.to_datetime(
                [
                    "2024-01-01 00:00",
                    "2024-01-01 01:00",
                    "2024-01-01 01:20",
                    "2024-01-01 02:00",
                    "2024-01-01 03:00",
                    "2024-01-01 05:00",
                    "2024-01-01 06:00",
                    "2024-01-01 07:00",
                ]
            ),
            "station": ["a"] * 8,
            "v": [1.0, 3.0, 5.0, 7.0, 9.0, 11.0, 13.0, 15.0],
        }
    )
    d = from_long_dataframe(df, time="time", node="station", values=["v"], graph=None)
    assert d.freq == pd.Timedelta("1h") and d.num_steps == 8  # 1h covers 4 of the 7 gaps
    assert d.values[:, 0, 0].tolist() == [1.0, 4.0, 7.0, 9.0, 0.0, 11.0, 13.0, 15.0]
    assert d.mask[:, 0, 0].tolist() == [True, True, True, True, False, True, True, True]


def test_duplicate_rows_are_rejected_and_named():
    df = long_frame(hours=3, jitter=False)
    df = pd.concat([df, df.iloc[[4]]])
    with pytest.raises(
        ValueError, match=r"share a \(time, node\) pair, e\.g\. \[\('2024-03-01 01:00:00', 'b'\)\]"
    ):
        pm25(df, graph=None)


def test_unknown_and_silent_stations(caplog):
    df = long_frame(hours=3)
    with pytest.raises(ValueError, match=r"1 station\(s\) missing from the station table: \['c'\]"):
        pm25(df, stations=STATIONS.iloc[:2], freq="1h")
    d = pm25(df, stations=STATIONS, freq="1h", k=2)
    assert "have no measurements" in caplog.text and "'d'" in caplog.text
    assert not d.mask[:, d.graph.node_ids.index("d")].any()


def test_missing_columns_bad_times_and_bad_numbers():
    df = long_frame(hours=2)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['no2'\]"):
        from_long_dataframe(df, time="time", node="station", values=["no2"])
    bad = df.astype({"time": object})
    bad.loc[3, "time"] = "yesterday"
    with pytest.raises(ValueError, match=r"row 3: 'yesterday' is not a timestamp"):
        pm25(bad, graph=None)
    bad = df.astype({"pm25": object})
    bad.loc[2, "pm25"] = "12,5"
    with pytest.raises(ValueError, match=r"column 'pm25', row 2: '12,5' is not a number"):
        pm25(bad, graph=None)
    with pytest.raises(ValueError, match="needs station coordinates"):
        pm25(df, graph="knn", freq="1h")


def test_covariates_are_kept_and_never_invented():
    df = long_frame(hours=6, jitter=False, skip=())
    d = pm25(
        df,
        covariates=["dow"],
        stations=STATIONS.iloc[:3],
        k=2,
    )
    assert d.covariate_names == ("time_of_day", "day_of_week", "dow")
    assert tuple(d.covariates.shape) == (6, 3, 3) and float(d.covariates[0, 0, 2]) == 4.0
    gappy = df.drop(index=4)  # station b at 01:00
    with pytest.raises(
        ValueError, match=r"covariate 'dow' is unknown at 2024-03-01 01:00:00 for node 'b'"
    ):
        pm25(gappy, covariates=["dow"], graph=None)
    filled = pm25(
        gappy,
        covariates=["dow"],
        covariate_fill="ffill",
        graph=None,
    )
    assert float(filled.covariates[1, 1, 2]) == 4.0 and not filled.mask[1, 1, 0]


def test_geodataframe_stations_projected_crs_and_given_graph():
    gdf = gpd.GeoDataFrame(
        STATIONS[["station", "elevation"]],
        geometry=gpd.points_from_xy(STATIONS.lon, STATIONS.lat),
        crs="EPSG:4326",
    ).to_crs("EPSG:32650")
    df = long_frame(hours=4)
    d = pm25(
        df,
        stations=gdf,
        freq="1h",
        graph="gaussian",
        kappa=1e-6,
    )
    assert d.graph.crs == "EPSG:32650" and list(d.nodes.columns) == ["x", "y", "elevation"]
    assert d.graph.num_edges == 4 * 3  # tiny kappa: every pair
    w = d.graph.to_dense()
    a, b, c = (d.graph.node_ids.index(x) for x in "abc")
    assert w[a, b] > w[a, c]  # metric distances: the nearer station weighs more
    ring = SensorGraph(["c", "b", "a", "d"], [[0, 1], [1, 0]], name="given")
    d2 = pm25(df, stations=STATIONS, freq="1h", graph=ring)
    assert d2.graph is ring and d2.nodes.index.tolist() == ["c", "b", "a", "d"]
    assert torch.equal(d2.values[:, 2], d.values[:, d.graph.node_ids.index("a")])


def test_wide_frame_round_trip_and_errors():
    df = long_frame(hours=8, jitter=False)
    wide = df.pivot(index="time", columns="station", values="pm25")
    d = from_wide_dataframe(
        wide, stations=STATIONS, station_id="station", freq="1h", k=2, feature="pm25", unit="ug/m3"
    )
    assert tuple(d.values.shape) == (8, 4, 1) and d.units == ("ug/m3",)
    assert not d.mask[:, d.graph.node_ids.index("d")].any()
    a = d.graph.node_ids.index("a")
    assert d.values[:, a, 0].tolist() == pytest.approx(wide["a"].tolist())
    dup = pd.concat([wide, wide.iloc[[0]]])
    with pytest.raises(ValueError, match="duplicate timestamps"):
        from_wide_dataframe(dup, graph=None)
    with pytest.raises(ValueError, match=r"columns \['a', 'b', 'c'\] are not in the station table"):
        from_wide_dataframe(wide, stations=STATIONS.set_index("station").iloc[3:], graph=None)


def test_frequency_inference_refuses_to_guess():
    ts = pd.DatetimeIndex(
        ["2024-01-01 00:00", "2024-01-01 00:07", "2024-01-01 00:20", "2024-01-01 01:00"]
    )
    with pytest.raises(ValueError, match="irregular"):
        infer_frequency(ts)


@settings(max_examples=40, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 48 * 60), min_size=1, max_size=40, unique=True),
    freq_min=st.sampled_from([15, 30, 60]),
)
def test_grid_keeps_every_reading_in_its_slot(offsets, freq_min):
    times = pd.Timestamp("2024-01-01") + pd.to_timedelta(offsets, unit="min")
    rows = np.arange(len(offsets), dtype=float)[:, None]
    grid, out = to_regular_grid(pd.DatetimeIndex(times), rows, f"{freq_min}min")
    step = pd.Timedelta(minutes=freq_min)
    assert (np.diff(grid.to_numpy()) == step.to_timedelta64()).all() and grid[0] <= times.min()
    slots = ((times - grid[0]) // step).to_numpy()
    for s in np.unique(slots):
        assert out[s, 0] == pytest.approx(rows[slots == s, 0].mean())
    assert np.isnan(out[np.setdiff1d(np.arange(len(grid)), slots), 0]).all()


@pytest.mark.slow
def test_readme_example_station_and_measurement_csvs_to_trained_model(tmp_path, monkeypatch):
    """The README's bring-your-own-data example, verbatim apart from file paths and budget."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    STATIONS.to_csv("stations.csv", index=False)
    times = pd.date_range("2024-03-01", periods=24 * 5, freq="1h")
    rows = [
        (t + pd.Timedelta(seconds=int(rng.integers(0, 300))), s, 50 + 20 * np.sin(t.hour / 4) + i)
        for t in times
        for i, s in enumerate("abcd")
        if rng.random() > 0.05  # 5% of readings never arrive
    ]
    pd.DataFrame(rows, columns=["time", "station", "pm25"]).to_csv("measurements.csv", index=False)

    import stgraph

    stations = pd.read_csv("stations.csv")  # station,lon,lat
    obs = pd.read_csv("measurements.csv")  # time,station,pm25 (irregular timestamps)
    data = stgraph.data.from_long_dataframe(
        obs, time="time", node="station", values=["pm25"], stations=stations, freq="1h",
        graph="knn", k=2, name="my-stations",
    )  # fmt: skip
    budget = stgraph.TrainConfig(epochs=1, max_batches=2, batch_size=128, progress=False)
    run = stgraph.train_run("my-stations", "dcrnn", data=data, hparams={"hidden": 8}, train=budget)
    assert (run.run_dir / "metrics.json").is_file() and "historical_average" in run.table
    assert data.missing_fraction > 0.03 and run.metrics["overall"]["mae"] > 0


messy = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-5, 5),
    st.sampled_from(["", "x", "2024-01-01", "2024-13-45", "a", "b", "1.5", "NaT"]),
    st.datetimes(min_value=pd.Timestamp("2023-12-31").to_pydatetime(),
                 max_value=pd.Timestamp("2024-01-03").to_pydatetime()),
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    cols=st.fixed_dictionaries(
        {"time": st.lists(messy, min_size=0, max_size=8), "station": st.lists(messy, max_size=8),
         "pm25": st.lists(messy, max_size=8)}
    ),
    drop=st.sampled_from([None, "time", "station", "pm25"]),
    freq=st.sampled_from([None, "1h"]),
)  # fmt: skip
def test_fuzz_long_frames_fail_with_value_errors_only(cols, drop, freq):
    n = min(len(v) for v in cols.values())
    df = pd.DataFrame({k: pd.Series(v[:n], dtype=object) for k, v in cols.items()})
    if drop:
        df = df.drop(columns=[drop])
    try:
        d = pm25(df, graph=None, freq=freq)
    except ValueError as e:
        assert str(e)
    else:
        assert d.num_nodes >= 1 and bool(torch.isfinite(d.values).all())


def monthly_frame(stamps: pd.DatetimeIndex) -> pd.DataFrame:
    return pd.DataFrame({"time": stamps, "station": "a", "v": np.arange(len(stamps), dtype=float)})


@pytest.mark.parametrize("freq", ["MS", "1MS", None])
def test_calendar_months_keep_one_step_per_month(freq):
    # 72 month starts: "1MS" is one month (not one millisecond); inference never merges the
    # 28-31-day gaps into 31-day steps
    months = pd.date_range("2018-01-01", periods=72, freq="MS")
    d = from_long_dataframe(monthly_frame(months), time="time", node="station", values=["v"],
                            graph=None, freq=freq)  # fmt: skip
    assert d.num_steps == 72 and d.freq_str == "MS" and d.timestamps.equals(months)
    assert d.values[:, 0, 0].tolist() == list(range(72)) and bool(d.mask.all())
    assert d.timestamps[-1] + d.freq == pd.Timestamp("2024-01-01")


def test_monthly_readings_mid_month_go_to_their_month_or_are_refused():
    mid = pd.date_range("2018-01-01", periods=24, freq="MS") + pd.Timedelta(days=14)
    wide = monthly_frame(mid).pivot(index="time", columns="station", values="v")
    with pytest.raises(ValueError, match=r"2018-02-15 00:00:00 -> 2018-03-15.*freq='MS'"):
        from_wide_dataframe(wide, graph=None)
    d = from_wide_dataframe(wide, graph=None, freq="MS")
    assert d.num_steps == 24 and d.timestamps[1] == pd.Timestamp("2018-02-01")
    assert d.values[:, 0, 0].tolist() == list(range(24))
