"""Chebyshev spectral graph convolution (ChebNet)."""

from __future__ import annotations

from torch import Tensor, nn

from stgraph.nn.ops.init import glorot_
from stgraph.nn.ops.propagate import Layout, graph_operator
from stgraph.nn.spatial.polynomial import graph_polynomial


class ChebConv(nn.Module):
    r"""Chebyshev graph convolution (Defferrard et al., NeurIPS 2016, eqs. 4-5).

    .. math::
        H = \sum_{k=0}^{K-1} T_k(\tilde L)\, X \Theta_k, \qquad
        T_0 = I,\; T_1 = \tilde L,\; T_k = 2 \tilde L T_{k-1} - T_{k-2}

    with the rescaled Laplacian :math:`\tilde L = 2L/\lambda_{max} - I` of
    :math:`L = I - D^{-1/2} A D^{-1/2}` and :math:`\lambda_{max} = 2` (as in STGCN and PyG),
    so :math:`\tilde L = -D^{-1/2} A D^{-1/2}` (no self-loops). The ``K`` terms are
    concatenated and mixed by one linear map (evaluated by Clenshaw's recurrence when that is
    cheaper, see :func:`~stgraph.nn.spatial.polynomial.graph_polynomial`).

    Args:
        in_channels: size of each input feature vector.
        out_channels: size of each output feature vector.
        k: filter size ``K >= 1`` (polynomial order ``K - 1``).
        bias: add a learnable bias.
        layout: propagation backend (see :class:`stgraph.nn.ops.propagate.GraphOperator`).

    Shapes:
        x: [..., N, in_channels]
        edge_index: [2, E], edge_weight: [E] (raw, symmetric graph expected)
        output: [..., N, out_channels]
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        k: int = 3,
        bias: bool = True,
        layout: Layout = "auto",
    ) -> None:
        super().__init__()
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.in_channels, self.out_channels, self.k, self.layout = (
            in_channels,
            out_channels,
            k,
            layout,
        )
        self.lin = nn.Linear(in_channels * k, out_channels, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot weights, zero bias."""
        glorot_(self.lin)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        op = graph_operator(
            self, edge_index, edge_weight, x.shape[-2], "sym", scale=-1.0, layout=self.layout
        )
        return graph_polynomial(x, self.lin, [op], self.k - 1, chebyshev=True)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, k={self.k}, layout={self.layout!r}"
