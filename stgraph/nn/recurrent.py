"""Graph-recurrent cells with gate injection: the spatial layer computing the gates is an
argument, so GCN-GRU, diffusion-GRU, ... are instances of one cell."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

SpatialFactory = Callable[[int, int], nn.Module]
"""``factory(in_channels, out_channels)`` -> module called as ``m(x, edge_index, edge_weight)``."""


class GraphGRUCell(nn.Module):
    r"""GRU cell whose matrix products are graph convolutions (DCRNN's DCGRU, Li et al.,
    ICLR 2018, eq. 3; seed article sec. 3.3 for the GRU).

    .. math::
        r, u = \sigma(\Theta_{r,u} \star_G [X_t, H_{t-1}]), \quad
        C = \tanh(\Theta_C \star_G [X_t, r \odot H_{t-1}]), \quad
        H_t = u \odot H_{t-1} + (1 - u) \odot C

    Args:
        in_channels: input feature size.
        hidden_channels: hidden state size.
        conv: factory of the spatial layer ``conv(in, out)`` (gate injection).

    Shapes:
        x: [B, N, in_channels]; h: [B, N, hidden_channels] or ``None`` (zeros)
        edge_index: [2, E], edge_weight: [E]
        output: [B, N, hidden_channels]
    """

    def __init__(self, in_channels: int, hidden_channels: int, conv: SpatialFactory) -> None:
        super().__init__()
        self.in_channels, self.hidden_channels = in_channels, hidden_channels
        self.gates = conv(in_channels + hidden_channels, 2 * hidden_channels)
        self.candidate = conv(in_channels + hidden_channels, hidden_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise both spatial layers; the update-gate bias starts at 1 (keep memory)."""
        for m in (self.gates, self.candidate):
            m.reset_parameters()  # type: ignore[operator]
        bias = getattr(getattr(self.gates, "lin", None), "bias", None)
        if bias is None:
            bias = getattr(self.gates, "bias", None)
        if isinstance(bias, Tensor):
            with torch.no_grad():
                bias.fill_(1.0)

    def forward(
        self, x: Tensor, h: Tensor | None, edge_index: Tensor, edge_weight: Tensor | None = None
    ) -> Tensor:
        if h is None:
            h = x.new_zeros(*x.shape[:-1], self.hidden_channels)
        ru = torch.sigmoid(self.gates(torch.cat([x, h], -1), edge_index, edge_weight))
        r, u = ru.chunk(2, dim=-1)
        c = torch.tanh(self.candidate(torch.cat([x, r * h], -1), edge_index, edge_weight))
        return u * h + (1.0 - u) * c

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.hidden_channels}"
