"""Bidirectional diffusion convolution (DCRNN)."""

from __future__ import annotations

from torch import Tensor, nn

from stgraph.nn.ops.init import glorot_
from stgraph.nn.ops.propagate import Layout, graph_operator
from stgraph.nn.spatial.polynomial import graph_polynomial


class DiffusionConv(nn.Module):
    r"""Bidirectional diffusion convolution (Li et al., ICLR 2018, eq. 2).

    .. math::
        H = \sum_{k=0}^{K} \big( (D_O^{-1} A)^{k\top} X \Theta_{k,1}
            + (D_I^{-1} A^\top)^{k\top} X \Theta_{k,2} \big)

    The forward walk follows edge directions (a node hears its upstream neighbours), the
    backward walk runs against them; the ``k = 0`` terms are merged into one. All
    ``2K + 1`` diffused copies are concatenated and mixed by one linear map (evaluated by
    :func:`~stgraph.nn.spatial.polynomial.graph_polynomial` in the cheaper order).

    Args:
        in_channels: size of each input feature vector.
        out_channels: size of each output feature vector.
        k: number of diffusion steps ``K``.
        bidirectional: include the backward (reverse-edge) walk.
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
        k: int = 2,
        bidirectional: bool = True,
        bias: bool = True,
        layout: Layout = "auto",
    ) -> None:
        super().__init__()
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        self.in_channels, self.out_channels, self.k = in_channels, out_channels, k
        self.bidirectional, self.layout = bidirectional, layout
        n_terms = 1 + k * (2 if bidirectional else 1)
        self.lin = nn.Linear(in_channels * n_terms, out_channels, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot weights, zero bias."""
        glorot_(self.lin)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        directions = (False, True) if self.bidirectional else (False,)
        ops = [
            graph_operator(
                self,
                edge_index,
                edge_weight,
                x.shape[-2],
                "rw",
                against_edges=a,
                layout=self.layout,
            )
            for a in directions
        ]
        return graph_polynomial(x, self.lin, ops, self.k)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, k={self.k}, "
            f"bidirectional={self.bidirectional}, layout={self.layout!r}"
        )
