"""Graph attention (GAT): multi-head attention on edges, as a PyG ``MessagePassing``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import softmax

from stgraph.graph.normalization import add_self_loops
from stgraph.nn.ops.init import glorot_
from stgraph.nn.ops.propagate import Layout, graph_operator


class GATConv(MessagePassing):
    r"""Graph attention convolution (Veličković et al., ICLR 2018, eqs. 1-6).

    .. math::
        \alpha^h_{ij} = \mathrm{softmax}_{j \in \mathcal N(i) \cup \{i\}}
            \mathrm{LeakyReLU}\big(a_h^\top [W_h x_i \,\|\, W_h x_j]\big), \qquad
        h_i = \big\Vert_{h=1}^{H} \sum_j \alpha^h_{ij} W_h x_j + b

    (heads concatenated, eq. 5, or averaged, eq. 6). Attention weights depend on the features,
    so there is no fixed operator to reuse: ``layout="sparse"`` runs a PyG ``MessagePassing``
    over the edges with :func:`torch_geometric.utils.softmax` (no compiled extras needed),
    batched over all leading dims (gathered node-first, ``node_dim=0``, where PyG's scatter
    kernels are fastest); ``layout="dense"`` computes the masked
    ``N x N`` scores (memory ``heads * N^2`` per time step and batch item; small graphs only).
    Both give the same result on graphs without duplicate edges. ``edge_weight`` is accepted
    for interface compatibility and ignored (GAT learns its own edge weights).

    Args:
        in_channels: input feature size.
        out_channels: output feature size (divisible by ``heads`` when ``concat``).
        heads: attention heads ``H``.
        concat: concatenate heads (else average them; then each head has ``out_channels``).
        negative_slope: LeakyReLU slope.
        dropout: dropout on the attention coefficients (training only).
        self_loops: every node also attends to itself (the paper's setting).
        bias: add a learnable bias.
        layout: ``"sparse"`` (message passing, default) or ``"dense"``.

    Shapes:
        x: [..., N, in_channels]; edge_index: [2, E] -> output [..., N, out_channels]
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        heads: int = 4,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        self_loops: bool = True,
        bias: bool = True,
        layout: Layout = "sparse",
    ) -> None:
        super().__init__(aggr="sum", node_dim=0)
        if concat and out_channels % heads:
            raise ValueError(f"out_channels={out_channels} must be divisible by heads={heads}")
        self.in_channels, self.out_channels, self.heads, self.concat = (
            in_channels,
            out_channels,
            heads,
            concat,
        )
        self.negative_slope, self.dropout, self.self_loops = negative_slope, dropout, self_loops
        self.layout = "dense" if layout == "dense" else "sparse"
        self.head_dim = out_channels // heads if concat else out_channels
        self.lin = nn.Linear(in_channels, heads * self.head_dim, bias=False)
        self.att_src = nn.Parameter(torch.empty(heads, self.head_dim))
        self.att_dst = nn.Parameter(torch.empty(heads, self.head_dim))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot weights and attention vectors, zero bias."""
        glorot_(self.lin)
        nn.init.xavier_uniform_(self.att_src)
        nn.init.xavier_uniform_(self.att_dst)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        lead, n = x.shape[:-2], x.shape[-2]
        h = self.lin(x).reshape(-1, n, self.heads, self.head_dim)  # [S, N, H, D]
        a_src = (h * self.att_src).sum(-1, keepdim=True)  # [S, N, H, 1]
        a_dst = (h * self.att_dst).sum(-1, keepdim=True)
        if self.layout == "dense":
            out = self._dense(h, a_src, a_dst, edge_index)
        else:
            ei = edge_index
            if self.self_loops:
                ei = add_self_loops(edge_index, None, n)[0]
            nf = (h.transpose(0, 1), a_src.transpose(0, 1), a_dst.transpose(0, 1))  # node-first
            out = self.propagate(ei, x=nf[0], alpha=(nf[1], nf[2])).transpose(0, 1)
        out = out.reshape(*lead, n, -1) if self.concat else out.mean(dim=-2).reshape(*lead, n, -1)
        return out if self.bias is None else out + self.bias

    def _coefficients(self, scores: Tensor) -> Tensor:
        return F.dropout(scores, self.dropout, self.training)

    def message(
        self, x_j: Tensor, alpha_j: Tensor, alpha_i: Tensor, index: Tensor, size_i: int | None
    ) -> Tensor:
        scores = F.leaky_relu(alpha_j + alpha_i, self.negative_slope)  # [E, S, H, 1]
        return x_j * self._coefficients(softmax(scores, index, num_nodes=size_i, dim=0))

    def _dense(self, h: Tensor, a_src: Tensor, a_dst: Tensor, edge_index: Tensor) -> Tensor:
        n = h.shape[1]
        adj = graph_operator(  # existing self-loops are replaced, never doubled
            self, edge_index, None, n, "none", self_loops=self.self_loops, layout="dense"
        ).matrix
        scores = a_dst.permute(0, 2, 1, 3) + a_src.permute(0, 2, 3, 1)  # [S, H, N, N]
        scores = F.leaky_relu(scores, self.negative_slope).masked_fill(adj == 0, float("-inf"))
        alpha = self._coefficients(scores.softmax(-1).nan_to_num(0.0))
        return torch.matmul(alpha, h.transpose(1, 2)).transpose(1, 2)  # [S, N, H, D]

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, heads={self.heads}, concat={self.concat}, "
            f"layout={self.layout!r}"
        )
