"""Time-varying edges: storage, validation, and survival through windows and batches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from stgraph.data import Protocol, SpatioTemporalData, TemporalEdges
from stgraph.graph import SensorGraph


def ring_series(t: int = 20, n: int = 4) -> SpatioTemporalData:
    """Step k links node k % n -> (k + 1) % n with weight k (one edge per step)."""
    steps = [([[k % n], [(k + 1) % n]], [float(k)]) for k in range(t)]
    steps[3] = (np.zeros((2, 0)), [])  # a step without edges
    te = TemporalEdges.from_steps(steps, n)
    values = torch.arange(t * n, dtype=torch.float32).reshape(t, n, 1)
    graph = SensorGraph(range(n), [[0], [1]], name="ring")
    return SpatioTemporalData(
        values,
        None,
        pd.date_range("2024-01-01", periods=t, freq="1D"),
        graph,
        temporal_edges=te,
        name="ring",
    )


def test_steps_are_stored_and_read_back():
    te = ring_series().temporal_edges
    assert te.num_steps == 20 and te.edge_index.shape == (2, 19)
    ei, ew = te.at(5)
    assert ei.tolist() == [[1], [2]] and ew.tolist() == [5.0]
    assert te.at(3)[0].shape == (2, 0) and te.at(-1)[1].tolist() == [19.0]
    with pytest.raises(IndexError):
        te.at(20)


def test_validation_names_the_step():
    with pytest.raises(ValueError, match=r"time step 1: edge \(0, 9\) has a node index outside"):
        TemporalEdges.from_steps([([[0], [1]], None), ([[0], [9]], None)], 4)
    with pytest.raises(ValueError, match="finite and >= 0"):
        TemporalEdges.from_steps([([[0], [1]], [-1.0])], 4)
    with pytest.raises(ValueError, match=r"temporal_edges cover 2 steps x 4 nodes, values have 3"):
        SpatioTemporalData(
            torch.zeros(3, 4, 1),
            None,
            pd.date_range("2024", periods=3, freq="D"),
            SensorGraph(range(4), []),
            temporal_edges=TemporalEdges.from_steps([([[0], [1]], None)] * 2, 4),
        )


def test_batches_carry_each_windows_last_input_step_block_diagonally():
    d = ring_series()
    protocol = Protocol("ring", lookback=3, horizon=2, split=(0.5, 0.25, 0.25)).fit(d)
    windows = protocol.windows(d, "train")
    batch = windows.batch(np.array([0, 1, 2, 4]))
    n = d.num_nodes
    assert batch.edge_ptr.tolist() == [0, 1, 1, 2, 3]  # window 1 ends on the edgeless step 3
    for b in range(len(batch)):
        last = int(batch.start[b]) + 3 - 1
        ei, ew = batch.window_edges(b)
        ref = d.temporal_edges.at(last)
        assert torch.equal(ei, ref[0]) and torch.equal(ew, ref[1])
        lo, hi = int(batch.edge_ptr[b]), int(batch.edge_ptr[b + 1])
        assert (
            (batch.edge_index[:, lo:hi] >= b * n) & (batch.edge_index[:, lo:hi] < (b + 1) * n)
        ).all()
    # never an edge of a target step (future information)
    assert batch.edge_weight.tolist() == [2.0, 4.0, 6.0]
    moved = batch.to("cpu")
    assert torch.equal(moved.edge_index, batch.edge_index) and moved.edge_ptr is not None


def test_static_graph_batches_have_no_edges(tiny_traffic):
    protocol = Protocol("x", lookback=4, horizon=2).fit(tiny_traffic)
    batch = protocol.windows(tiny_traffic, "train").batch(np.arange(3))
    assert batch.edge_index is None and batch.to("cpu").edge_ptr is None
    with pytest.raises(ValueError, match="no time-varying edges"):
        batch.window_edges(0)


def test_select_features_keeps_the_temporal_edges():
    d = ring_series()
    assert d.select_features(["value"]).temporal_edges is d.temporal_edges
