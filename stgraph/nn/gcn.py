"""Graph convolution with symmetric normalisation (GCN)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from stgraph.graph.normalization import normalize
from stgraph.nn.propagate import GraphOperator, Layout, cached_operator


class GCNConv(nn.Module):
    r"""Graph convolution (Kipf & Welling, ICLR 2017, eq. 2).

    .. math::
        H = \hat D^{-1/2} \hat A^\top \hat D^{-1/2} X \Theta + b, \qquad \hat A = A + I

    Args:
        in_channels: size of each input feature vector.
        out_channels: size of each output feature vector.
        self_loops: add ``I`` before normalising.
        bias: add a learnable bias.
        layout: propagation backend (see :class:`stgraph.nn.propagate.GraphOperator`).

    Shapes:
        x: [..., N, in_channels]
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
        nn.init.xavier_uniform_(self.lin.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        n = x.shape[-2]

        def build(ei: Tensor, ew: Tensor | None) -> GraphOperator:
            e, w = normalize(ei, ew, n, "sym", self_loops=self.self_loops)
            return GraphOperator(e, w, n, self.layout)

        op = cached_operator(self, "sym", edge_index, edge_weight, build)
        h = op(self.lin(x))
        return h if self.bias is None else h + self.bias

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, self_loops={self.self_loops}, "
            f"layout={self.layout!r}"
        )
