"""Convolutional LSTM (ConvLSTM) on grid-shaped nodes."""

from __future__ import annotations

from functools import partial

from stgraph.nn.spatial.grid import GridConv
from stgraph.nn.temporal.graph_recurrent import GraphLSTMCell, RecurrentLayer


class ConvLSTM(RecurrentLayer):
    r"""Convolutional LSTM (Shi et al., NeurIPS 2015, eq. 3): an LSTM whose input-to-state and
    state-to-state maps are 2-D convolutions, with peephole connections.

    .. math::
        i_t &= \sigma(W_{xi} * X_t + W_{hi} * H_{t-1} + W_{ci} \circ C_{t-1} + b_i) \\
        f_t &= \sigma(W_{xf} * X_t + W_{hf} * H_{t-1} + W_{cf} \circ C_{t-1} + b_f) \\
        C_t &= f_t \circ C_{t-1} + i_t \circ \tanh(W_{xc} * X_t + W_{hc} * H_{t-1} + b_c) \\
        o_t &= \sigma(W_{xo} * X_t + W_{ho} * H_{t-1} + W_{co} \circ C_t + b_o), \quad
        H_t = o_t \circ \tanh(C_t)

    It is a :class:`~stgraph.nn.GraphLSTMCell` whose gate layer is a
    :class:`~stgraph.nn.GridConv` (gate injection), unrolled by
    :class:`~stgraph.nn.RecurrentLayer`.

    Args:
        in_channels: input feature size.
        hidden_channels: state size.
        grid: ``(H, W)`` with ``H * W = N`` (nodes in row-major order).
        kernel_size: odd convolution kernel size.
        peephole: learn the peephole weights :math:`W_{c\cdot}`.

    Shapes:
        x: [B, T, H*W, in_channels] -> [B, T, H*W, hidden_channels]
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        grid: tuple[int, int],
        kernel_size: int = 3,
        peephole: bool = True,
    ) -> None:
        conv = partial(GridConv, grid=grid, kernel_size=kernel_size)
        nodes = grid[0] * grid[1] if peephole else None
        super().__init__(GraphLSTMCell(in_channels, hidden_channels, conv, nodes))
