"""Adaptive adjacency learned from node embeddings (Graph WaveNet / AGCRN)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stgraph.nn.ops.init import glorot_
from stgraph.nn.ops.propagate import GraphOperator
from stgraph.nn.spatial.polynomial import graph_polynomial


class AdaptiveAdjacency(nn.Module):
    r"""Self-adaptive adjacency matrix (Wu et al., Graph WaveNet, IJCAI 2019, eq. 5; AGCRN,
    Bai et al., NeurIPS 2020, eq. 4 with :math:`E_1 = E_2`).

    .. math::
        \tilde A = \mathrm{softmax}\big(\mathrm{ReLU}(E_1 E_2^\top)\big)

    with the softmax over each row, so ``P = \tilde A`` is a propagation matrix in the
    stgraph convention (``P[target, source]``; every node averages over all nodes).

    Args:
        num_nodes: ``N``.
        dim: embedding size.
        symmetric: use one embedding table (AGCRN's :math:`E E^\top`).

    Shapes:
        output: [N, N] (rows sum to 1)
    """

    def __init__(self, num_nodes: int, dim: int = 10, symmetric: bool = False) -> None:
        super().__init__()
        self.num_nodes, self.dim, self.symmetric = num_nodes, dim, symmetric
        self.source = nn.Parameter(torch.empty(num_nodes, dim))
        self.target = None if symmetric else nn.Parameter(torch.empty(num_nodes, dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Standard normal embeddings (as in Graph WaveNet)."""
        nn.init.normal_(self.source)
        if self.target is not None:
            nn.init.normal_(self.target)

    def forward(self) -> Tensor:
        target = self.source if self.target is None else self.target
        return F.softmax(F.relu(target @ self.source.t()), dim=1)

    def extra_repr(self) -> str:
        return f"num_nodes={self.num_nodes}, dim={self.dim}, symmetric={self.symmetric}"


class AdaptiveGraphConv(nn.Module):
    r"""Graph convolution on the learned adjacency (the adaptive term of Graph WaveNet's
    graph convolution, Wu et al., IJCAI 2019, eq. 7).

    .. math::
        H = \sum_{k=0}^{K} \tilde A^k X \Theta_k

    The graph arguments are accepted and ignored, so it plugs in wherever a spatial layer
    does (e.g. as the gates of a :class:`~stgraph.nn.GraphGRUCell`); add a
    :class:`~stgraph.nn.DiffusionConv` for Graph WaveNet's fixed-graph terms. Node
    embeddings tie it to one node set (no permutation equivariance).

    Args:
        in_channels: input feature size.
        out_channels: output feature size.
        num_nodes: ``N``.
        embedding_dim: size of the node embeddings.
        k: number of propagation steps ``K``.

    Shapes:
        x: [..., N, in_channels] -> [..., N, out_channels]
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_nodes: int,
        embedding_dim: int = 10,
        k: int = 2,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.k = in_channels, out_channels, k
        self.adjacency = AdaptiveAdjacency(num_nodes, embedding_dim)
        self.lin = nn.Linear(in_channels * (k + 1), out_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise embeddings and weights."""
        self.adjacency.reset_parameters()
        glorot_(self.lin)

    def forward(
        self, x: Tensor, edge_index: Tensor | None = None, edge_weight: Tensor | None = None
    ) -> Tensor:
        op = GraphOperator.from_dense(self.adjacency())
        return graph_polynomial(x, self.lin, [op], self.k)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, k={self.k}"
