"""AQI-36 and the UCI Beijing multi-site files, on the real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from stgraph.data import load_dataset
from stgraph.data.io.loaders.air_quality import aqi36_evaluation_mask, encode_wind_direction

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def beijing(data_root):
    return load_dataset("beijing-air-quality", data_root)


def test_aqi36_ground_missing_and_evaluation_mask(data_root):
    d = load_dataset("aqi36", data_root)
    assert tuple(d.values.shape) == (8759, 36, 1)
    assert d.missing_fraction == pytest.approx(0.13247, abs=1e-5)
    assert str(d.timestamps[0]) == "2014-05-01 01:00:00" and d.freq == pd.Timedelta("1h")
    assert d.values[0, :3, 0].tolist() == [138.0, 89.0, 105.0]
    assert not d.mask[0, 29, 0]  # the first row's empty cell (station 001030)
    g = d.graph
    assert g.node_ids[0] == "001001" and np.allclose(g.coords[0], [116.173553, 40.090679])
    assert not g.directed and g.num_edges == 654
    reduced = load_dataset("aqi36", data_root, observed="missing")
    assert reduced.missing_fraction == pytest.approx(0.24580, abs=1e-5)
    ev = aqi36_evaluation_mask(data_root)
    assert float(ev.float().mean()) == pytest.approx(0.11333, abs=1e-5)
    assert not (ev & reduced.mask).any() and bool((ev <= d.mask).all())
    both = d.mask & reduced.mask
    assert torch.equal(d.values[both], reduced.values[both])  # same readings where both have one


def test_beijing_shapes_missing_and_first_row(beijing):
    d = beijing
    assert tuple(d.values.shape) == (35064, 12, 13)
    assert d.missing_fraction == pytest.approx(0.013866, abs=1e-5)
    assert d.graph.node_ids[:2] == ("Aotizhongxin", "Changping")
    assert str(d.timestamps[-1]) == "2017-02-28 23:00:00"
    first = dict(zip(d.feature_names, d.values[0, 0].tolist(), strict=True))
    assert first["PM2.5"] == 4.0 and first["CO"] == 300.0 and first["TEMP"] == pytest.approx(-0.7)
    # wind from NNW = 337.5 degrees clockwise from north
    assert (first["wd_sin"], first["wd_cos"]) == pytest.approx((-0.38268343, 0.92387953))
    pm = d.mask[..., d.feature_names.index("PM2.5")].float().mean(0)
    assert 0.0105 < float(1 - pm.max()) and float(1 - pm.min()) < 0.0275  # 1.1-2.7% per station


def test_beijing_fallback_graph_and_coordinates(beijing, data_root):
    g = beijing.graph
    assert g.num_edges == 12 * 11 and g.coords is None  # complete graph, no coordinates
    coords = pd.DataFrame(
        {
            "station": beijing.graph.node_ids,
            "lon": np.linspace(116.2, 116.7, 12),
            "lat": np.linspace(39.8, 40.3, 12),
        }
    )
    d = load_dataset("beijing-pm25", data_root, coords=coords, graph="knn", k=2)
    assert d.feature_names == ("PM2.5",) and d.graph.crs == "EPSG:4326"
    # stations on a line: each links its 2 nearest (the two ends reach 2 to one side)
    assert d.graph.num_edges == 2 * (11 + 2)
    assert torch.equal(d.values[..., 0], beijing.values[..., 0])


def test_wind_direction_encoding():
    enc = encode_wind_direction(pd.Series(["N", "E", "S", "W", "NA", None]), "x")
    assert np.allclose(enc[:4], [[0, 1], [1, 0], [0, -1], [-1, 0]], atol=1e-12)
    assert np.isnan(enc[4:]).all()
    with pytest.raises(ValueError, match=r"row 2: wind direction 'NORTH'"):
        encode_wind_direction(pd.Series(["NORTH"]), "x")
