"""PEMS0X and PeMSD7(M): real graph files; series files written by the test in the release
layout (npz key ``data`` [T, N, F]; header-less speed CSV of weekdays)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stgraph.data import load_dataset
from stgraph.data.io.loaders.pems import pems_graph, stgcn_graph
from stgraph.data.io.readers import read_numeric_matrix

pytestmark = [
    pytest.mark.realdata,
    # the released graphs leave some sensors without links; the builders say so
    pytest.mark.filterwarnings("ignore::stgraph.graph.IsolatedNodesWarning"),
]


@pytest.mark.parametrize(
    "name,n,links,loops",
    [
        ("pems03", 358, 546, 1),
        ("pems04", 307, 340, 0),
        ("pems07", 883, 866, 0),
        ("pems08", 170, 274, 0),
    ],
)
def test_real_pems_graphs_are_symmetrised_link_lists(data_root, name, n, links, loops):
    code = name.upper()
    ids_file = data_root / f"pems_distances/{code}.txt" if name == "pems03" else None
    csv = data_root / f"pems_distances/{code}.csv"
    g = pems_graph(csv, n, ids_file)
    assert g.num_nodes == n and not g.directed
    # both directions; PEMS08's 21 repeated pairs merged; PEMS03 lists one self-pair (distance 0)
    assert g.num_edges == 2 * links + loops
    assert set(g.edge_weight.tolist()) == {1.0}
    if ids_file is not None:  # PEMS03: the detector ids become the node ids
        assert g.node_ids[0] == ids_file.read_text().split()[0]
    gw = pems_graph(csv, n, ids_file, weights="gaussian")  # kernel weights, < 0.1 dropped
    assert 0 < gw.num_edges <= g.num_edges and float(gw.edge_weight.max()) <= 1.0
    with pytest.raises(ValueError, match="weights must be"):
        pems_graph(csv, n, ids_file, weights="binary")


def test_pems04_from_a_release_layout_npz(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("STGRAPH_DATA", str(data_root))
    rng = np.random.default_rng(0)
    data = rng.uniform(0, 500, (2 * 288, 307, 3))
    data[10, 5, 0] = np.nan
    (tmp_path / "pems04").mkdir()
    np.savez(tmp_path / "pems04/PEMS04.npz", data=data)
    d = load_dataset("pems04", tmp_path)
    assert tuple(d.values.shape) == (576, 307, 3)
    assert d.feature_names == ("flow", "occupancy", "speed")
    assert str(d.timestamps[0]) == "2018-01-01 00:00:00" and d.freq == pd.Timedelta("5min")
    assert not d.mask[10, 5, 0] and int((~d.mask).sum()) == 1
    assert float(d.values[0, 0, 2]) == pytest.approx(data[0, 0, 2], rel=1e-6)
    assert d.graph.num_edges == 680


def test_pems03_flow_only_and_detector_ids(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("STGRAPH_DATA", str(data_root))
    (tmp_path / "pems03").mkdir()
    np.savez(tmp_path / "pems03/PEMS03.npz", data=np.ones((288, 358, 1)))
    d = load_dataset("pems03", tmp_path)
    assert d.feature_names == ("flow",) and d.units == ("vehicles/5min",)
    np.savez(tmp_path / "pems03/PEMS03.npz", data=np.ones((288, 300, 1)))
    with pytest.raises(ValueError, match=r"358 ids for 300 nodes"):
        load_dataset("pems03", tmp_path)


def test_pemsd7m_weekdays_on_the_calendar_grid(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("STGRAPH_DATA", str(data_root))
    days = 5  # Tue 2012-05-01 .. Mon 2012-05-07 (weekend in between)
    speed = np.round(np.random.default_rng(0).uniform(20, 70, (days * 288, 228)), 2)
    (tmp_path / "pemsd7m").mkdir()
    pd.DataFrame(speed).to_csv(tmp_path / "pemsd7m/PeMSD7_V_228.csv", header=False, index=False)
    d = load_dataset("pemsd7m", tmp_path)
    assert tuple(d.values.shape) == (7 * 288, 228, 1)  # Tue..Mon = 7 calendar days
    assert str(d.timestamps[-1]) == "2012-05-07 23:55:00"
    weekend = d.timestamps.day_of_week >= 5
    assert not d.mask[weekend].any() and d.mask[~weekend].all()
    monday = np.flatnonzero(d.timestamps == pd.Timestamp("2012-05-07"))[0]
    assert float(d.values[monday, 0, 0]) == pytest.approx(speed[4 * 288, 0])
    g = d.graph
    assert g.num_edges == 1668 and not g.directed and g.node_ids[0] == "716939"
    assert np.allclose(g.coords[0], [-118.218373, 34.041407])


def test_stgcn_kernel_on_the_real_distance_matrix(data_root):
    _, dist = read_numeric_matrix(data_root / "pemsd7m/PeMSD7_W_228.csv", header=False)
    assert dist.shape == (228, 228) and dist.max() == 45200.0 and (np.diag(dist) == 0).all()
    g = stgcn_graph(dist, [str(i) for i in range(228)], np.zeros((228, 2)))
    w = g.to_dense()
    assert (w > 0).sum() == 1668 and (np.diag(w) == 0).all() and (w[w > 0] >= 0.5).all()
    i, j = np.argwhere(w > 0)[0]
    assert w[i, j] == pytest.approx(np.exp(-((dist[i, j] / 1e4) ** 2) / 0.1), rel=1e-6)
