"""PyTorch Geometric Temporal JSON sets on the real files, incl. England COVID's daily graphs
surviving windowing and batching."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from stgraph.data import Protocol, load_dataset

pytestmark = pytest.mark.realdata


def test_chickenpox(data_root):
    d = load_dataset("chickenpox", data_root)
    assert tuple(d.values.shape) == (521, 20, 1) and d.missing_fraction == 0.0
    assert d.values[0, :3, 0].tolist() == pytest.approx(
        [-0.0010813572, -0.7111361, -3.2280851], abs=1e-6
    )
    assert d.graph.node_ids[:3] == ("BACS", "BARANYA", "BEKES") and d.graph.num_edges == 102
    assert d.freq_str == "W-MON" and str(d.timestamps[0]) == "2005-01-03 00:00:00"
    assert d.values.mean(0).abs().max() < 1e-5  # z-scored per county upstream


def test_pedalme(data_root):
    d = load_dataset("pedalme", data_root)
    assert tuple(d.values.shape) == (35, 15, 1) and d.missing_fraction == 0.0
    assert float(d.values[0, 0, 0]) == pytest.approx(3.0574043)
    assert d.graph.num_edges == 225 and float(d.graph.edge_weight.min()) > 0


def test_montevideo_bus(data_root):
    d = load_dataset("montevideo-bus", data_root)
    assert tuple(d.values.shape) == (744, 675, 1) and d.missing_fraction == 0.0
    assert float(d.values.sum()) == 374595.0 and float(d.values.max()) == 101.0
    assert d.graph.node_ids[:2] == ("5289", "5290") and d.graph.num_edges == 690
    assert d.graph.crs == "EPSG:32721" and d.graph.coords[0].tolist() == [589196.0, 6151987.0]
    w = d.graph.edge_weight  # distance -> kernel weight: shorter links weigh more
    raw = json.loads((data_root / "pgt/montevideo_bus.json").read_text())["links"]
    dist = torch.tensor([link["weight"] for link in raw])
    order = torch.argsort(dist)
    assert (w.max() <= 1) and bool((torch.diff(w[_edge_order(d, raw)][order]) <= 1e-7).all())
    assert str(d.timestamps[-1]) == "2020-10-31 23:00:00"


def _edge_order(d, raw):
    """Positions in the graph's (sorted) edge list of the JSON links, in file order."""
    pos = {nid: i for i, nid in enumerate(d.graph.node_ids)}
    ei = d.graph.edge_index.T.tolist()
    where = {(s, t): k for k, (s, t) in enumerate(ei)}
    return torch.tensor([where[(pos[str(x["source"])], pos[str(x["target"])])] for x in raw])


def test_england_covid_daily_graphs(data_root):
    d = load_dataset("england-covid", data_root)
    assert tuple(d.values.shape) == (61, 129, 1) and float(d.values.sum()) == 119551.0
    te = d.temporal_edges
    assert te is not None and te.num_steps == 61 and te.edge_index.shape[1] == 82529
    raw = json.loads((data_root / "pgt/england_covid.json").read_text())["edge_mapping"]
    for t in (0, 30, 60):
        ei, ew = te.at(t)
        assert ei.T.tolist() == raw["edge_index"][str(t)]
        assert ew.tolist() == pytest.approx(raw["edge_weight"][str(t)])
    ei0, _ = te.at(0)
    assert d.graph.num_edges == ei0.shape[1]  # the static graph is day 0's


def test_england_covid_windows_carry_their_last_input_days_graph(data_root):
    d = load_dataset("england-covid", data_root)
    protocol = Protocol("england-covid", lookback=8, horizon=1, split=(0.6, 0.2, 0.2)).fit(d)
    windows = protocol.windows(d, "test")
    batch = windows.batch(np.arange(len(windows)))
    n = d.num_nodes
    for b in range(len(batch)):
        last = int(batch.start[b]) + 8 - 1
        ei, ew = batch.window_edges(b)
        ref_ei, ref_ew = d.temporal_edges.at(last)
        assert torch.equal(ei, ref_ei) and torch.equal(ew, ref_ew)
    assert int(batch.edge_index.max()) < len(batch) * n  # block-diagonal over B * N nodes
    item = windows[0]
    assert torch.equal(item["edge_index"], d.temporal_edges.at(int(windows.starts[0]) + 7)[0])
