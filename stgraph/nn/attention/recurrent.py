"""Attention-LSTM and attention-GRU: recurrent networks that attend over their own past
hidden states (seed article secs. 6.1.1 and 6.1.2)."""

from __future__ import annotations

from torch import nn

from stgraph.nn.temporal.graph_recurrent import (
    GraphGRUCell,
    GraphLSTMCell,
    RecurrentLayer,
    SpatialFactory,
)


class _AttentionRNN(RecurrentLayer):
    cell_type: type[nn.Module] = GraphGRUCell

    def __init__(
        self, in_channels: int, hidden_channels: int, conv: SpatialFactory | None = None
    ) -> None:
        super().__init__(self.cell_type(in_channels, hidden_channels, conv), attention=True)


class AttentionLSTM(_AttentionRNN):
    r"""LSTM with attention over its previous hidden and cell states (seed article sec. 6.1.1;
    the seed's update drops :math:`x_t` and the output gate, so this follows LSTMN, Cheng
    et al., EMNLP 2016, eqs. 3-8, with the seed's scaled dot-product score; see
    :class:`~stgraph.nn.RecurrentLayer` for the equations).

    Args:
        in_channels: input feature size.
        hidden_channels: state size.
        conv: spatial layer for the gates (``None``: per-node, no graph).

    Shapes:
        x: [B, T, N, in_channels] -> [B, T, N, hidden_channels]
    """

    cell_type = GraphLSTMCell


class AttentionGRU(_AttentionRNN):
    r"""GRU with attention over its previous hidden states (seed article sec. 6.1.2, whose
    update equations are garbled; the GRU recurrence of Cho et al., EMNLP 2014, reads the
    attention summary :math:`\tilde h_{t-1}` in place of :math:`h_{t-1}`; see
    :class:`~stgraph.nn.RecurrentLayer`).

    Args:
        in_channels: input feature size.
        hidden_channels: state size.
        conv: spatial layer for the gates (``None``: per-node, no graph).

    Shapes:
        x: [B, T, N, in_channels] -> [B, T, N, hidden_channels]
    """

    cell_type = GraphGRUCell
