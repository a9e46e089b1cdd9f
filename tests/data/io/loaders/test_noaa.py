"""NOAA daily station weather on the real files."""

from __future__ import annotations

import numpy as np
import pytest

from stgraph.data import load_dataset

pytestmark = pytest.mark.realdata


def test_noaa_missing_codes_graph_and_values(data_root):
    d = load_dataset("noaa-weather", data_root)
    assert tuple(d.values.shape) == (1461, 328, 3)
    assert d.feature_names == ("Tmax", "Tmin", "Precip") and d.units[0] == "degF"
    assert d.missing_fraction == pytest.approx(0.593342, abs=1e-5)
    per_var = 1 - d.mask.float().mean((0, 1))
    assert per_var.tolist() == pytest.approx([0.59046, 0.59271, 0.59685], abs=1e-4)
    assert d.values[0, 0].tolist() == [35.0, 31.0, 0.0]  # station 3804 on 1990-01-01
    assert not d.mask[0, 1].any()  # -9999 / -99.99 codes
    assert float(d.values[..., 2][d.mask[..., 2]].min()) >= 0  # no -99.99 code leaks through
    assert float(d.values[..., 0][d.mask[..., 0]].min()) > -100  # no -9999 code either
    assert (
        str(d.timestamps[0]) == "1990-01-01 00:00:00"
        and str(d.timestamps[-1]) == "1993-12-31 00:00:00"
    )
    g = d.graph
    assert g.node_ids[0] == "3804" and np.allclose(g.coords[0], [-81.433334, 39.349998])
    assert not g.directed and g.num_edges == 3084
    deg = np.bincount(g.edge_index[0].numpy(), minlength=328)
    assert deg.min() >= 8  # every station keeps its 8 nearest neighbours
