"""T-GCN releases on the real files: Los-loop (CSV) and SZ-taxi (npz + CSV)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from stgraph.data import load_dataset

pytestmark = pytest.mark.realdata


def test_los_loop_shapes_values_graph_and_coordinates(data_root):
    d = load_dataset("los-loop", data_root)
    assert tuple(d.values.shape) == (2016, 207, 1) and d.missing_fraction == 0.0
    assert d.values[0, :3, 0].tolist() == [64.375, 67.625, 67.125]
    assert float(d.values[-1, -1, 0]) == 58.875
    assert float(d.values.mean()) == pytest.approx(58.89, abs=0.01)
    assert (
        str(d.timestamps[0]) == "2012-03-01 00:00:00"
        and str(d.timestamps[-1]) == "2012-03-07 23:55:00"
    )
    g = d.graph
    assert g.num_edges == 2833 and not g.directed and g.node_ids[:2] == ("773869", "767541")
    assert g.crs == "EPSG:4326" and np.allclose(g.coords[0], [-118.31829, 34.15497])


def test_los_loop_checksum_mismatch_is_reported(data_root, tmp_path):
    (tmp_path / "los_loop").mkdir()
    shutil.copy(data_root / "los_loop" / "los_adj.csv", tmp_path / "los_loop")
    speed = (data_root / "los_loop" / "los_speed.csv").read_text().replace("64.375", "64.376", 1)
    (tmp_path / "los_loop" / "los_speed.csv").write_text(speed)
    with pytest.raises(ValueError, match=r"checksum mismatch for .*los_speed\.csv"):
        load_dataset("los-loop", tmp_path)


def test_sz_taxi_zero_speeds_are_masked_by_default(data_root):
    d = load_dataset("sz-taxi", data_root)
    assert tuple(d.values.shape) == (2976, 156, 1)
    assert d.missing_fraction == pytest.approx(0.24760, abs=1e-5)  # the zero speeds
    assert d.values[0, :3, 0].tolist() == pytest.approx([8.471972, 18.45541, 20.590635])
    assert str(d.timestamps[-1]) == "2015-01-31 23:45:00" and d.freq_str == "15min"
    assert d.graph.num_edges == 532 and d.graph.directed  # 4 asymmetric entries are kept
    kept = load_dataset("sz-taxi", data_root, zeros_missing=False)
    assert kept.missing_fraction == 0.0 and bool((kept.values == 0).any())
