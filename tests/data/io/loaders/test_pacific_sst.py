"""Pacific SST grid -> lattice graph (needs stgraph.graph.lattice from the geography work)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stgraph.data import load_dataset
from stgraph.data.io.loaders.pacific_sst import month_starts

pytestmark = pytest.mark.realdata


def test_timestamps_are_calendar_month_starts():
    ts = month_starts("1970-01", 399)
    assert (ts.to_period("M") == pd.period_range("1970-01", periods=399, freq="M")).all()
    assert (ts.day == 1).all() and str(ts[-1].to_period("M")) == "2003-03"


def test_sst_grid_becomes_a_lattice_over_sea_cells(data_root):
    pytest.importorskip("stgraph.graph.lattice")
    with pytest.warns(UserWarning, match=r"1 of 2261 nodes have no edge: 'r28_c62'"):
        d = load_dataset("pacific-sst", data_root)  # one sea cell enclosed by land
    z = np.load(data_root / "pacific_sst/pacific_sst_monthly.npz")
    sea = ~z["land_mask"]
    assert tuple(d.values.shape) == (399, int(sea.sum()), 1) == (399, 2261, 1)
    assert d.missing_fraction == 0.0 and d.freq_str == "MS"
    rows, cols = np.nonzero(sea)  # row-major order of the kept cells
    assert d.graph.node_ids[0] == f"r{rows[0]}_c{cols[0]}"
    assert float(d.values[0, 0, 0]) == pytest.approx(float(z["sst"][0, rows[0], cols[0]]))
    assert float(d.values[-1, -1, 0]) == pytest.approx(float(z["sst"][-1, rows[-1], cols[-1]]))
    assert np.allclose(d.graph.coords[0], [z["lon"][cols[0]], z["lat"][rows[0]]])
    assert not d.graph.directed and d.graph.num_edges > 0
    deg = np.bincount(d.graph.edge_index[0].numpy(), minlength=d.num_nodes)
    assert deg.max() == 4
