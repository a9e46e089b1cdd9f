"""Recurrent cells and the unrolling layer: the published recurrences, and attention over
past hidden states really changes the recurrence (and only from the second step)."""

import torch

from stgraph.nn import (
    AttentionGRU,
    AttentionLSTM,
    ConvLSTM,
    GraphGRUCell,
    GraphLSTMCell,
    RecurrentLayer,
    TemporalGRU,
)
from stgraph.nn.ops.fold import node_sequences


def test_pointwise_graph_lstm_cell_is_torchs_lstm_cell():
    cell, ref = GraphLSTMCell(3, 6), torch.nn.LSTMCell(3, 6)
    with torch.no_grad():
        i, f, o, g = cell.gates.lin.weight.chunk(4)  # stgraph order i, f, o, g; torch i, f, g, o
        w = torch.cat([i, f, g, o])
        ref.weight_ih.copy_(w[:, :3])
        ref.weight_hh.copy_(w[:, 3:])
        bi, bf, bo, bg = cell.gates.lin.bias.chunk(4)
        ref.bias_ih.copy_(torch.cat([bi, bf, bg, bo]))
        ref.bias_hh.zero_()
    x, h, c = torch.randn(5, 3), torch.randn(5, 6), torch.randn(5, 6)
    for a, b in zip(cell(x, (h, c)), ref(x, (h, c)), strict=True):
        torch.testing.assert_close(a, b)


def test_gru_cell_is_the_dcrnn_recurrence():
    cell = GraphGRUCell(3, 4)
    x, h = torch.randn(5, 3), torch.randn(5, 4)
    r, u = torch.sigmoid(cell.gates(torch.cat([x, h], -1))).chunk(2, -1)
    c = torch.tanh(cell.candidate(torch.cat([x, r * h], -1)))
    torch.testing.assert_close(cell(x, h), u * h + (1 - u) * c)


def test_temporal_gru_runs_torchs_gru_on_every_node():
    layer = TemporalGRU(3, 4)
    x = torch.randn(2, 5, 6, 3)
    ref = layer.rnn(node_sequences(x))[0].reshape(2, 6, 5, 4).transpose(1, 2)
    torch.testing.assert_close(layer(x), ref)


def test_attention_over_hidden_states_changes_the_recurrence_after_the_first_step():
    x = torch.randn(2, 6, 3, 4)
    for attentive in (AttentionLSTM(4, 5), AttentionGRU(4, 5)):
        plain = RecurrentLayer(attentive.cell)
        a, b = attentive(x), plain(x)
        torch.testing.assert_close(a[:, :1], b[:, :1])  # a tape of one state: nothing to mix
        assert not torch.allclose(a[:, 1:], b[:, 1:])


def test_conv_lstm_receptive_field_grows_by_one_ring_per_step():
    """A 3x3 ConvLSTM on a 5x5 grid: an input at corner (0, 0) at t = 0 reaches exactly the
    nodes within Chebyshev distance t + 1 at step t (the state carries it one ring further
    per step)."""
    torch.manual_seed(0)
    layer = ConvLSTM(2, 3, grid=(5, 5)).eval()
    x = torch.randn(1, 5, 25, 2)
    y = x.clone()
    y[:, 0, 0] += 5.0
    with torch.no_grad():
        diff = (layer(x) - layer(y)).abs().amax(-1)[0].reshape(5, 5, 5)  # [T, row, col]
    rows, cols = torch.meshgrid(torch.arange(5), torch.arange(5), indexing="ij")
    for t in range(4):
        reach = torch.maximum(rows, cols) <= t + 1
        assert (diff[t][~reach] == 0).all(), t
        assert diff[t, t + 1, t + 1] > 0, t
