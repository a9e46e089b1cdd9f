"""Graph convolution with symmetric normalisation (GCN)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from stgraph.nn.ops.init import glorot_
from stgraph.nn.ops.propagate import Layout, graph_operator


class GCNConv(nn.Module):
    r"""Graph convolution (Kipf & Welling, ICLR 2017, eq. 2).

    .. math::
        H = \hat D^{-1/2} \hat A^\top \hat D^{-1/2} X \Theta + b, \qquad \hat A = A + I

    The product with :math:`\Theta` runs before the propagation when it shrinks the features
    and after it otherwise (the propagation is the expensive part).

    Args:
        in_channels: size of each input feature vector.
        out_channels: size of each output feature vector.
        self_loops: add ``I`` before normalising.
        bias: add a learnable bias.
        layout: propagation backend (see :class:`stgraph.nn.ops.propagate.GraphOperator`).

    Shapes:
        x: [..., N, in_channels] (e.g. [B, T, N, F] or [B, N, F])
        edge_index: [2, E], edge_weight: [E] (raw weights; normalised inside)
        output: [..., N, out_channels]
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        self_loops: bool = True,
        bias: bool = True,
        layout: Layout = "auto",
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.self_loops, self.layout = self_loops, layout
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot weights, zero bias."""
        glorot_(self.lin)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        op = graph_operator(
            self,
            edge_index,
            edge_weight,
            x.shape[-2],
            "sym",
            self_loops=self.self_loops,
            layout=self.layout,
        )
        h = op(self.lin(x)) if self.out_channels <= self.in_channels else self.lin(op(x))
        return h if self.bias is None else h + self.bias

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, self_loops={self.self_loops}, "
            f"layout={self.layout!r}"
        )
