"""Bidirectional diffusion convolution (DCRNN)."""

from __future__ import annotations

from torch import Tensor, nn

from stgraph.nn.ops.init import glorot_
from stgraph.nn.ops.nodemajor import StackedOperator
from stgraph.nn.ops.propagate import Layout, cached_operator, graph_operator
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

    def _operators(self, edge_index: Tensor, edge_weight: Tensor | None, n: int) -> list:
        directions = (False, True) if self.bidirectional else (False,)
        return [
            graph_operator(
                self, edge_index, edge_weight, n, "rw", against_edges=a, layout=self.layout
            )
            for a in directions
        ]

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        return graph_polynomial(
            x, self.lin, self._operators(edge_index, edge_weight, x.shape[-2]), self.k
        )

    def supports_node_major(self, edge_weight: Tensor | None) -> bool:
        """Whether :meth:`forward_node_major` applies (fixed edge weights, ``K >= 1``)."""
        return self.k > 0 and (edge_weight is None or not edge_weight.requires_grad)

    def forward_node_major(
        self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None
    ) -> Tensor:
        """The same filter on node-major input (:mod:`stgraph.nn.ops.nodemajor`): no layout
        copies, one product per diffusion power for both directions together.

        Shapes:
            x: [N, ..., in_channels] -> [N, ..., out_channels]
        """
        n, d, k = x.shape[0], 2 if self.bidirectional else 1, self.k

        def build(ei: Tensor, ew: Tensor | None) -> StackedOperator:
            return StackedOperator(self._operators(ei, ew, n), self.layout)

        stack = cached_operator(self, f"stack|{n}", edge_index, edge_weight, build)
        w = self.lin.weight.view(self.out_channels, 1 + d * k, self.in_channels).transpose(0, 1)
        order = [0] + [1 + i * k + p for p in range(k) for i in range(d)]  # power-major
        y = stack.filter(x.reshape(-1, self.in_channels), w[order], self.lin.bias, k)
        return y.view(*x.shape[:-1], self.out_channels)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, k={self.k}, "
            f"bidirectional={self.bidirectional}, layout={self.layout!r}"
        )
