"""The pandas-HDF5 reader honours the index unit written in ``axis1``'s ``kind``."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from stgraph.data.io.hdf5 import read_pandas_hdf
from stgraph.data.io.loaders.dcrnn import dcrnn_series
from stgraph.graph import SensorGraph

IDS = ["773869", "767541", "767542"]
INDEX = pd.date_range("2012-03-01", periods=288, freq="5min")


def write_frame(path, index_counts, kind, values, key="df"):
    """The METR-LA layout of ``DataFrame.to_hdf(path, key)`` (fixed format), with the index
    stored as int64 counts in the unit named by ``kind``."""
    with h5py.File(path, "w") as f:
        g = f.create_group(key)
        g.attrs["pandas_type"] = b"frame"
        g["axis0"] = np.array(IDS, dtype="S")
        g["axis1"] = index_counts
        g["axis1"].attrs["kind"] = kind
        g["block0_items"] = np.array(IDS, dtype="S")
        g["block0_values"] = values


@pytest.mark.parametrize(
    ("unit", "kind"),
    [("us", b"datetime64[us]"), ("ns", b"datetime64[ns]"), ("ns", b"datetime64"),
     ("s", "datetime64[s]")],
)  # fmt: skip
def test_index_unit_comes_from_the_kind_attribute(tmp_path, unit, kind):
    # pandas 3 writes microseconds with kind "datetime64[us]"; older pandas nanoseconds
    values = np.arange(288 * 3, dtype=np.float64).reshape(288, 3) + 1.0
    write_frame(tmp_path / "m.h5", INDEX.as_unit(unit).asi8, kind, values)
    df = read_pandas_hdf(tmp_path / "m.h5")
    assert df.index.equals(INDEX) and df.columns.tolist() == IDS
    assert np.array_equal(df.to_numpy(), values)


def test_pandas3_metr_la_layout_loads_as_the_full_series(tmp_path):
    values = np.full((288, 3), 60.0)
    write_frame(tmp_path / "m.h5", INDEX.as_unit("us").asi8, b"datetime64[us]", values)
    graph = SensorGraph(IDS, np.zeros((2, 0), dtype=int))
    d = dcrnn_series(tmp_path / "m.h5", graph, "metr-la")
    assert d.num_steps == 288 and d.timestamps[0] == pd.Timestamp("2012-03-01")
    assert d.freq_str == "5min" and bool(d.mask.all())


def test_non_datetime_index_is_refused(tmp_path):
    write_frame(tmp_path / "m.h5", np.arange(288), b"integer", np.zeros((288, 3)))
    with pytest.raises(ValueError, match=r"axis1 must be a datetime index, got kind 'integer'"):
        read_pandas_hdf(tmp_path / "m.h5")
