"""LSTM and GRU over every node's sequence (fused PyTorch kernels)."""

from __future__ import annotations

from torch import Tensor, nn

from stgraph.nn.ops.fold import from_node_sequences, node_sequences


class _NodeRNN(nn.Module):
    kind: type[nn.GRU] | type[nn.LSTM] = nn.GRU

    def __init__(
        self, in_channels: int, hidden_channels: int, layers: int = 1, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.in_channels, self.hidden_channels, self.layers = in_channels, hidden_channels, layers
        self.rnn = self.kind(
            in_channels, hidden_channels, layers, batch_first=True, dropout=dropout
        )

    def reset_parameters(self) -> None:
        """PyTorch's default uniform initialisation."""
        self.rnn.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(node_sequences(x))
        return from_node_sequences(out, x.shape[0])

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.hidden_channels}, layers={self.layers}"


class TemporalLSTM(_NodeRNN):
    r"""A (stacked) LSTM run over every node's sequence, shared across nodes (Hochreiter &
    Schmidhuber 1997; seed article secs. 3.3 / 5.2.2 — the seed's equations drop the cell
    state's tanh, this is the standard form of :class:`torch.nn.LSTM`).

    .. math::
        i, f, o = \sigma(W_{\{i,f,o\}} [x_t, h_{t-1}] + b), \;
        c_t = f \odot c_{t-1} + i \odot \tanh(W_c [x_t, h_{t-1}] + b_c), \;
        h_t = o \odot \tanh(c_t)

    Folding: ``[B, T, N, F] -> [B*N, T, F]`` by :func:`stgraph.nn.ops.fold.node_sequences`.

    Args:
        in_channels: input feature size.
        hidden_channels: state size.
        layers: stacked layers.
        dropout: dropout between stacked layers.

    Shapes:
        x: [B, T, N, in_channels] -> [B, T, N, hidden_channels] (all hidden states)
    """

    kind = nn.LSTM


class TemporalGRU(_NodeRNN):
    r"""A (stacked) GRU run over every node's sequence, shared across nodes (Cho et al.,
    EMNLP 2014; seed article secs. 3.3 / 5.2.3, whose candidate omits :math:`x_t`).

    .. math::
        z, r = \sigma(W_{\{z,r\}} [x_t, h_{t-1}] + b), \;
        \tilde h = \tanh(W x_t + r \odot (U h_{t-1}) + b), \;
        h_t = (1 - z) \odot \tilde h + z \odot h_{t-1}

    Folding: ``[B, T, N, F] -> [B*N, T, F]`` by :func:`stgraph.nn.ops.fold.node_sequences`.

    Args:
        in_channels: input feature size.
        hidden_channels: state size.
        layers: stacked layers.
        dropout: dropout between stacked layers.

    Shapes:
        x: [B, T, N, in_channels] -> [B, T, N, hidden_channels] (all hidden states)
    """

    kind = nn.GRU
