"""Series on disk: the directory format, its converters and writer, and a data pipeline whose
resident memory does not grow with the length of the series."""

import filecmp
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from stgraph.data import (
    Protocol,
    SeriesMeta,
    SeriesWriter,
    SpatioTemporalData,
    convert_long_csv,
    convert_wide_csv,
    from_long_dataframe,
    from_wide_dataframe,
    load_dataset,
    open_series,
    register_series,
    write_series,
)
from stgraph.data.chunks import quantiles
from stgraph.data.io import registry
from stgraph.data.io.synthetic import SyntheticTrafficConfig, generate_synthetic_traffic
from stgraph.data.io.synthetic_large import LargeSyntheticConfig, generate_large_synthetic
from stgraph.data.protocol import OutlierWarning
from stgraph.graph import SensorGraph


@pytest.fixture(scope="module")
def traffic() -> SpatioTemporalData:
    return generate_synthetic_traffic(SyntheticTrafficConfig(days=3))


def assert_same_series(a: SpatioTemporalData, b: SpatioTemporalData) -> None:
    assert torch.equal(a.values, b.values) and torch.equal(a.mask, b.mask)
    assert a.timestamps.equals(b.timestamps) and a.freq == b.freq
    assert a.feature_names == b.feature_names and a.units == b.units
    assert a.graph == b.graph and a.name == b.name
    pd.testing.assert_frame_equal(a.nodes, b.nodes)
    torch.testing.assert_close(a.covariates, b.covariates)


def test_round_trip_equals_the_in_memory_series_and_maps_the_file(traffic, tmp_path):
    write_series(traffic, tmp_path / "s", rows=500)
    back = open_series(tmp_path / "s")
    assert_same_series(traffic, back)
    t, n, f = traffic.values.shape
    assert back.values.untyped_storage().nbytes() == t * n * f * 4  # a view on the whole map
    assert back.missing_fraction == pytest.approx(traffic.missing_fraction)


def test_fully_observed_series_has_no_mask_file_and_a_stride0_mask(tmp_path):
    raw = np.random.default_rng(0).normal(size=(30, 4, 2)).astype(np.float32)
    meta = SeriesMeta(("a", "b", "c", "d"), ("x", "y"), "2024-01-01", "h", name="obs")
    write_series(raw, tmp_path / "s", meta=meta, rows=7)
    assert not (tmp_path / "s" / "mask.npy").exists()
    d = open_series(tmp_path / "s")
    assert d.mask.stride() == (0, 0, 0) and bool(d.mask.all())
    assert np.array_equal(d.values.numpy(), raw) and d.freq_str == "h"


def test_user_covariates_are_kept(tmp_path):
    ts = pd.date_range("2024-01-01", periods=20, freq="D")
    g = SensorGraph(["a", "b"], np.array([[0, 1], [1, 0]]))
    cov = torch.arange(20.0).reshape(20, 1, 1)
    d = SpatioTemporalData(torch.ones(20, 2, 1), None, ts, g, covariates=cov,
                           covariate_names=("holiday",))  # fmt: skip
    write_series(d, tmp_path / "s")
    assert_same_series(d, open_series(tmp_path / "s"))


def test_chunked_writer_equals_one_shot(traffic, tmp_path):
    write_series(traffic, tmp_path / "one", rows=traffic.num_steps)
    write_series(traffic, tmp_path / "many", rows=7)
    for name in ("values.npy", "mask.npy", "meta.json", "graph.json", "nodes.csv"):
        assert filecmp.cmp(tmp_path / "one" / name, tmp_path / "many" / name, shallow=False)


def wide_frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    df = pd.DataFrame(rng.normal(50, 5, (40, 3)).round(2), columns=["s1", "s2", "s3"])
    df.insert(0, "time", pd.date_range("2024-03-01", periods=40, freq="15min"))
    df.iloc[5, 2] = np.nan  # an empty cell
    return df.drop(index=[12, 13, 30])  # missing rows: gaps on the grid


def test_wide_csv_conversion_equals_from_wide_dataframe(tmp_path):
    wide_frame().to_csv(tmp_path / "w.csv", index=False)
    convert_wide_csv(tmp_path / "w.csv", tmp_path / "s", rows=6, feature="speed")
    got = open_series(tmp_path / "s")
    ref = from_wide_dataframe(pd.read_csv(tmp_path / "w.csv"), time="time", graph=None)
    assert torch.equal(got.values, ref.values) and torch.equal(got.mask, ref.mask)
    assert got.timestamps.equals(ref.timestamps) and got.feature_names == ("speed",)
    assert got.num_steps == 40 and not bool(got.mask[12:14].any())


def long_frame() -> pd.DataFrame:
    w = wide_frame()
    long = w.melt(id_vars="time", var_name="node", value_name="speed")
    long["flow"] = long["speed"] * 3
    return long.sort_values("time", kind="stable").reset_index(drop=True)


def test_long_csv_conversions_equal_from_long_dataframe(tmp_path):
    long = long_frame()
    long.to_csv(tmp_path / "cols.csv", index=False)
    tidy = long.melt(id_vars=["time", "node"], var_name="feature", value_name="value")
    tidy.sort_values("time", kind="stable").to_csv(tmp_path / "tidy.csv", index=False)
    ref = from_long_dataframe(long, time="time", node="node", values=["speed", "flow"], graph=None)
    convert_long_csv(tmp_path / "cols.csv", tmp_path / "a", values=["speed", "flow"], rows=5)
    convert_long_csv(tmp_path / "tidy.csv", tmp_path / "b", rows=4)  # rows split a timestamp
    for out in ("a", "b"):
        got = open_series(tmp_path / out)
        assert got.feature_names == ("speed", "flow") and got.graph.node_ids == ref.graph.node_ids
        assert torch.equal(got.values, ref.values) and torch.equal(got.mask, ref.mask)


NODES = ["s1", "s2", "s3"]


@pytest.mark.parametrize(
    "edit, kwargs, expected",
    [
        (lambda d: d.assign(node=d["node"].where(d.index != 7, "X9")), {"nodes": NODES},
         r"line 9, column 'node': unknown node 'X9' \(expected one of the 3 nodes"),
        (lambda d: d.assign(time=d["time"].astype(str).where(d.index != 4, "yesterday")), {},
         r"line 6, column 'time': 'yesterday' is not a timestamp"),
        (lambda d: pd.concat([d.iloc[:10], d.iloc[3:4], d.iloc[10:]]), {},
         r"line 12, column 'time': .* timestamps must be non-decreasing"),
        (lambda d: d.rename(columns={"time": "when"}), {}, r"line 1: no column 'time'"),
        (lambda d: d.assign(speed=d["speed"].astype(object).where(d.index != 2, "fast")), {},
         r"line 4, column 'speed': 'fast' is not a number"),
        (lambda d: pd.concat([d.iloc[:3], d.iloc[2:3], d.iloc[3:]]), {},
         r"line 5: a second value for the same time, node and feature"),
    ],
    ids=["unknown-node", "bad-timestamp", "decreasing", "wrong-column", "not-a-number", "dup"],
)  # fmt: skip
def test_bad_long_tables_are_refused_naming_file_line_and_column(tmp_path, edit, kwargs, expected):
    edit(long_frame()).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match=expected) as err:
        convert_long_csv(tmp_path / "bad.csv", tmp_path / "s", values=["speed", "flow"], rows=4,
                         **kwargs)  # fmt: skip
    assert str(tmp_path / "bad.csv") in str(err.value)
    assert not (tmp_path / "s").exists() and os.listdir(tmp_path) == ["bad.csv"]


def test_wide_csv_off_grid_and_repeated_times_are_refused(tmp_path):
    df = wide_frame()
    df.iloc[3, 0] = df.iloc[3, 0] + pd.Timedelta("1min")
    df.to_csv(tmp_path / "off.csv", index=False)
    with pytest.raises(ValueError, match=r"off.csv: line 5, column 'time': .* not on the 15min"):
        convert_wide_csv(tmp_path / "off.csv", tmp_path / "s", freq="15min")
    pd.concat([wide_frame().iloc[:3], wide_frame().iloc[2:]]).to_csv(tmp_path / "rep.csv")
    with pytest.raises(ValueError, match=r"rep.csv: line 5, .* must be increasing"):
        convert_wide_csv(tmp_path / "rep.csv", tmp_path / "s")


def test_a_failed_write_leaves_nothing(tmp_path):
    meta = SeriesMeta(("a", "b"), start="2024-01-01", freq="5min")
    with (
        pytest.raises(RuntimeError, match="disk on fire"),
        SeriesWriter(tmp_path / "s", meta, 10) as w,
    ):
        w.append(np.ones((4, 2, 1)))
        raise RuntimeError("disk on fire")
    assert os.listdir(tmp_path) == []
    with (
        pytest.raises(ValueError, match="wrote 4 of 10 time steps"),
        SeriesWriter(tmp_path / "s", meta, 10) as w,
    ):
        w.append(np.ones((4, 2, 1)))
    assert os.listdir(tmp_path) == []
    (tmp_path / "s").mkdir()
    with pytest.raises(FileExistsError, match="not a series directory"):
        SeriesWriter(tmp_path / "s", meta, 10, overwrite=True)


def test_overwrite_replaces_a_series_directory(traffic, tmp_path):
    write_series(traffic, tmp_path / "s")
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        write_series(traffic, tmp_path / "s")
    raw = np.zeros((5, traffic.num_nodes, 1), np.float32)
    write_series(raw, tmp_path / "s", meta=SeriesMeta(traffic.graph.node_ids, start="2024-01-01",
                                                       freq="h"), overwrite=True)  # fmt: skip
    assert open_series(tmp_path / "s").num_steps == 5 and os.listdir(tmp_path) == ["s"]


@pytest.mark.parametrize("scaler", ["zscore", "zscore-node", "minmax", "max", "none"])
def test_protocol_fit_on_disk_equals_in_memory(traffic, tmp_path, scaler):
    write_series(traffic, tmp_path / "s")
    disk = open_series(tmp_path / "s")
    a, b = Protocol("x", scaler=scaler).fit(traffic), Protocol("x", scaler=scaler).fit(disk)
    assert a.bounds == b.bounds
    np.testing.assert_allclose(a.scaler_state["shift"], b.scaler_state["shift"], rtol=1e-6)
    np.testing.assert_allclose(a.scaler_state["scale"], b.scaler_state["scale"], rtol=1e-6)


def test_outlier_warning_is_the_same_from_disk(traffic, tmp_path):
    values = traffic.values.clone()
    values[100, 5, 0] = 1e30
    bad = SpatioTemporalData(values, traffic.mask.clone(), traffic.timestamps, traffic.graph,
                             traffic.feature_names, name="bad")  # fmt: skip
    write_series(bad, tmp_path / "s")
    messages = []
    for d in (bad, open_series(tmp_path / "s")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Protocol("x").fit(d)
        messages.append([str(w.message) for w in caught if w.category is OutlierWarning])
    assert messages[0] == messages[1] and "1e+30" in messages[0][0]


def test_chunked_quantiles_are_exactly_numpys():
    rng = np.random.default_rng(3)
    v = (rng.standard_normal((50, 6, 2)) * 100).astype(np.float32)
    v[rng.random(v.shape) < 0.3] = 0
    m = rng.random(v.shape) > 0.2
    q = [0.0, 0.001, 0.01, 0.5, 0.99, 0.999, 1.0]
    got = quantiles(torch.from_numpy(v), torch.from_numpy(m), q, rows=7)
    for f in range(2):
        assert np.array_equal(got[f], np.quantile(v[..., f][m[..., f]].astype(np.float64), q))


def test_windows_from_disk_equal_in_memory_windows(traffic, tmp_path):
    write_series(traffic, tmp_path / "s")
    disk = open_series(tmp_path / "s")
    p = Protocol("x", lookback=12, horizon=6).fit(traffic)
    for split in ("train", "test"):
        w_mem, w_disk = p.windows(traffic, split), p.windows(disk, split)
        gen = torch.Generator().manual_seed(0)
        for b_mem, b_disk in zip(w_mem.loader(64), w_disk.loader(64), strict=True):
            for key in ("x", "y", "x_mask", "y_mask", "covariates", "start"):
                assert torch.equal(getattr(b_mem, key), getattr(b_disk, key))
        i = torch.randperm(len(w_disk), generator=gen)[:5].numpy()
        assert torch.equal(w_mem.batch(i).x, w_disk.batch(i).x)
        assert torch.equal(w_mem[3]["x"], w_disk[3]["x"])


def test_registered_series_loads_by_name(traffic, tmp_path, monkeypatch):
    entries = registry._DATASETS._entries
    monkeypatch.setattr(registry._DATASETS, "_entries", dict(entries))  # restored afterwards
    write_series(traffic, tmp_path / "s")
    register_series("ondisk-test-series", tmp_path / "s")
    assert_same_series(
        load_dataset("ondisk-test-series"), open_series(tmp_path / "s", "ondisk-test-series")
    )


def test_large_synthetic_is_deterministic_and_streams_day_by_day(tmp_path):
    cfg = LargeSyntheticConfig(nodes=120, days=2, sensors_per_corridor=30, seed=4)
    longer = LargeSyntheticConfig(**{**cfg.__dict__, "days": 3})
    other = LargeSyntheticConfig(**{**cfg.__dict__, "seed": 5})
    for name, c in (("a", cfg), ("b", cfg), ("c", longer), ("d", other)):
        generate_large_synthetic(tmp_path / name, c)
    a, b, c, d = (open_series(tmp_path / x) for x in "abcd")
    assert torch.equal(a.values, b.values) and torch.equal(a.mask, b.mask) and a.graph == b.graph
    assert torch.equal(c.values[:576], a.values) and c.num_steps == 864  # later days append
    assert not torch.equal(a.values, d.values)
    assert a.graph.num_edges >= 120 * 8 and json.loads((tmp_path / "a" / "meta.json").read_text())[
        "graph"]  # fmt: skip
    obs = a.values[a.mask]
    assert 0.002 < a.missing_fraction < 0.05 and 10 < float(obs.mean()) < 75


CHILD = """
import resource, sys, torch
from stgraph.data import Protocol, open_series
d = open_series(sys.argv[1])
held = d.values.clone() if sys.argv[2] == "copy" else None  # the regression the test catches
p = Protocol("x", lookback=12, horizon=12).fit(d)
w = p.windows(d, "train")
for i, b in enumerate(w.loader(32, shuffle=True, generator=torch.Generator().manual_seed(0))):
    if i == 4:
        break
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def peak_rss(path: Path, mode: str = "release") -> int:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), mode], capture_output=True,
                         text=True, env=env, check=True)  # fmt: skip
    return int(out.stdout.split()[-1])


def write_random(path: Path, steps: int, nodes: int) -> int:
    meta = SeriesMeta(tuple(f"n{i}" for i in range(nodes)), start="2024-01-01", freq="5min")
    rng = np.random.default_rng(0)
    with SeriesWriter(path, meta, steps) as w:
        for a in range(0, steps, 1000):
            k = min(1000, steps - a)
            w.append(rng.normal(50, 10, (k, nodes, 1)), rng.random((k, nodes, 1)) > 0.01)
    return sum(f.stat().st_size for f in path.iterdir())


@pytest.fixture(scope="module")
def short_and_long(tmp_path_factory):
    root = tmp_path_factory.mktemp("rss")
    sizes = [write_random(root / name, t, 2000) for name, t in (("short", 3000), ("long", 48000))]
    return root / "short", root / "long", sizes[1] - sizes[0]


def test_peak_rss_does_not_grow_with_the_series_length(short_and_long):
    short, long, extra_bytes = short_and_long  # the long series is ~450 MB larger on disk
    growth = peak_rss(long) - peak_rss(short)  # measured: -40..+90 MB, whatever the length
    assert extra_bytes > 400e6 and growth < 0.5 * extra_bytes, (growth, extra_bytes)


def test_one_full_size_copy_would_fail_that_check(short_and_long):
    """Control: the same pipeline holding one in-memory copy of the values (what a float64
    temporary or a ``clone()`` in validation or fitting would add) grows by far more than the
    threshold above, so that test catches such a regression. (Mapped file pages are not a
    reliable control: the kernel may reclaim them at any time.)"""
    short, long, extra_bytes = short_and_long
    growth = peak_rss(long, "copy") - peak_rss(short, "copy")
    assert growth > 0.5 * extra_bytes, (growth, extra_bytes)  # values are ~85 % of the bytes
