"""AGCRN: GRU cells with node-adaptive graph convolutions on a learned graph."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from stgraph.models.common import HorizonHead, covariate_width, with_time_features
from stgraph.models.registry import Capabilities, register_model
from stgraph.nn import AdaptiveAdjacency, GraphGRUCell, RecurrentLayer


class NodeAdaptiveGraphConv(nn.Module):
    r"""Node-adaptive graph convolution on the learned graph (Bai, Yao, Li, Wang & Wang,
    NeurIPS 2020, eqs. 3-6: NAPL-AGCN).

    The weights and bias of node ``n`` are generated from its embedding :math:`E_n \in
    \mathbb{R}^d` by shared pools :math:`\mathcal W \in \mathbb{R}^{d \times K \times C \times
    F}` and :math:`b \in \mathbb{R}^{d \times F}`; the graph is
    :math:`S = \mathrm{softmax}(\mathrm{ReLU}(E E^\top))` and the filter a Chebyshev
    polynomial of it:

    .. math::
        Z_n = \sum_{k=0}^{K-1} \big(T_k(S) X\big)_n\, (E_n \cdot \mathcal W)_k + E_n \cdot b,
        \qquad T_0 = I,\; T_1 = S,\; T_k = 2 S T_{k-1} - T_{k-2}

    The embedding table is the ``source`` of ``adjacency``, a module the caller may share
    (tie) between several convolutions, as AGCRN shares one :math:`E` between all layers and
    gates; :meth:`reset_parameters` leaves it to its owner. The graph arguments are accepted
    and ignored, so the layer plugs in as the gates of a :class:`~stgraph.nn.GraphGRUCell`.

    Args:
        in_channels: input feature size ``C``.
        out_channels: output feature size ``F``.
        adjacency: the (symmetric) :class:`~stgraph.nn.AdaptiveAdjacency` holding :math:`E`.
        k: Chebyshev terms ``K >= 1`` (AGCRN's ``cheb_k``; paper: 2, i.e. :math:`I` and
            :math:`S`). Default 2.

    Shapes:
        x: [B, N, in_channels] -> [B, N, out_channels]
    """

    def __init__(
        self, in_channels: int, out_channels: int, adjacency: AdaptiveAdjacency, k: int = 2
    ) -> None:
        super().__init__()
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if not adjacency.symmetric:
            raise ValueError("NodeAdaptiveGraphConv needs a symmetric AdaptiveAdjacency (one E)")
        self.in_channels, self.out_channels, self.k = in_channels, out_channels, k
        self.adjacency = adjacency
        d = adjacency.dim
        self.weight_pool = nn.Parameter(torch.empty(d, k, in_channels, out_channels))
        self.bias_pool = nn.Parameter(torch.empty(d, out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Uniform pools scaled so that each generated weight has Glorot variance for
        embeddings of unit variance (:math:`\mathrm{Var}(E_n \cdot \mathcal W) = d\,
        \mathrm{Var}(\mathcal W)`); zero bias pool. The embeddings are not touched."""
        d = self.adjacency.dim
        bound = math.sqrt(6.0 / ((self.k * self.in_channels + self.out_channels) * d))
        nn.init.uniform_(self.weight_pool, -bound, bound)
        nn.init.zeros_(self.bias_pool)

    def node_weights(self) -> tuple[Tensor, Tensor]:
        """Per-node weights and biases. Shapes: -> ([N, K, in, out], [N, out])."""
        emb = self.adjacency.source
        return torch.einsum("nd,dkio->nkio", emb, self.weight_pool), emb @ self.bias_pool

    def forward(
        self, x: Tensor, edge_index: Tensor | None = None, edge_weight: Tensor | None = None
    ) -> Tensor:
        terms = chebyshev_terms(self.adjacency() if self.k > 1 else None, x.movedim(-2, 0), self.k)
        weight, bias = self.node_weights()
        n, width = weight.shape[0], self.k * self.in_channels
        out = torch.bmm(terms.reshape(n, -1, width), weight.reshape(n, width, self.out_channels))
        return out.view(n, *x.shape[:-2], self.out_channels).movedim(0, -2) + bias

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, k={self.k}"


def chebyshev_terms(s: Tensor | None, z: Tensor, k: int) -> Tensor:
    r"""The Chebyshev terms :math:`[T_0(S) Z, \dots, T_{K-1}(S) Z]` of a node-major ``z``,
    concatenated on the channel axis (term-major: channel ``k C + c``). ``S`` multiplies the
    leading node axis, so every other axis rides along in one ``[N, N] x [N, *]`` product.

    Args:
        s: the graph :math:`S` (may be ``None`` when ``k == 1``: only :math:`T_0 = I`).
        z: node-major input.
        k: number of terms ``K >= 1``.

    Shapes:
        s: [N, N]; z: [N, ..., C] -> [N, ..., K * C]
    """
    flat = z.reshape(z.shape[0], -1)
    terms = [flat]
    if k > 1:
        assert s is not None
        terms.append(s @ flat)
        for _ in range(2, k):
            terms.append(2 * (s @ terms[-1]) - terms[-2])
    return torch.cat([t.view(z.shape) for t in terms], -1)


def node_adaptive_gru(x: Tensor, cell: GraphGRUCell, s: Tensor) -> tuple[Tensor, Tensor]:
    r"""AGCRN's GRU cell (eq. 7) unrolled over ``L`` steps in node-major layout: the same
    function as :class:`~stgraph.nn.RecurrentLayer` over a :class:`GraphGRUCell` of
    :class:`NodeAdaptiveGraphConv` gates, computed in fewer, larger products.

    The convolution is linear in its input, so the :math:`[X_t, H_{t-1}]` product splits
    into an :math:`X` part and an :math:`H` part. The node weights :math:`E_n \cdot \mathcal
    W` are generated once per call (not once per step and gate), the :math:`X` part of both
    gates and the candidate is one batched product over all ``L`` steps, and each step does
    only the :math:`H` part: one ``[N, N]`` product per Chebyshev term and one per-node
    batched product (``baddbmm``) for the gates and one for the candidate, with the state
    kept ``[N, B, H]`` throughout (no per-step layout copies).

    Args:
        x: node-major inputs.
        cell: the cell whose ``gates`` / ``candidate`` are :class:`NodeAdaptiveGraphConv`.
        s: the learned graph :math:`S` (``cell``'s adjacency, computed once by the caller).

    Shapes:
        x: [N, L, B, C]; s: [N, N] -> (every state [N, L, B, H], last state [N, B, H])
    """
    gates, cand = cell.gates, cell.candidate
    assert isinstance(gates, NodeAdaptiveGraphConv) and isinstance(cand, NodeAdaptiveGraphConv)
    n, steps, b, c = x.shape
    hid, k = cell.hidden_channels, gates.k
    wg, bg = gates.node_weights()  # [N, K, C + H, 2H], [N, 2H]
    wc, bc = cand.node_weights()  # [N, K, C + H, H], [N, H]
    wx = torch.cat([wg[:, :, :c], wc[:, :, :c]], -1).reshape(n, k * c, 3 * hid)
    wh_g = wg[:, :, c:].reshape(n, k * hid, 2 * hid)
    wh_c = wc[:, :, c:].reshape(n, k * hid, hid)
    xk = chebyshev_terms(s, x, k).view(n, steps * b, k * c)
    bias = torch.cat([bg, bc], -1).unsqueeze(1)
    # unbind, not proj[:, t]: a select's backward zero-fills a whole proj-sized gradient
    proj = torch.baddbmm(bias, xk, wx).view(n, steps, b, 3 * hid).unbind(1)
    h: Tensor | None = None
    outs = []
    for t in range(steps):
        pg, pc = proj[t].split([2 * hid, hid], -1)
        if h is None:  # H_0 = 0: the H part vanishes
            r, u = torch.sigmoid(pg).chunk(2, -1)
            h = torch.tanh(pc) * (1.0 - u)
        else:
            ru = torch.baddbmm(pg, chebyshev_terms(s, h, k), wh_g)
            r, u = torch.sigmoid(ru).chunk(2, -1)
            cand_t = torch.tanh(torch.baddbmm(pc, chebyshev_terms(s, r * h, k), wh_c))
            h = torch.lerp(cand_t, h, u)
        outs.append(h)
    assert h is not None
    return torch.stack(outs, 1), h


@register_model("agcrn", "AGCRN: GRU with node-adaptive graph conv on a learned graph")
class AGCRN(nn.Module):
    r"""Adaptive Graph Convolutional Recurrent Network (Bai, Yao, Li, Wang & Wang, NeurIPS
    2020).

    A stack of :class:`~stgraph.nn.GraphGRUCell` whose gates and candidate are
    :class:`NodeAdaptiveGraphConv` (eq. 7, AGCRN's cell) encodes the ``L`` input steps; one
    node-embedding table :math:`E \in \mathbb{R}^{N \times d}` generates every node's weights
    in every layer and the graph :math:`S = \mathrm{softmax}(\mathrm{ReLU}(E E^\top))`. A
    linear map of the last hidden state (the paper's end convolution) gives all ``H`` steps:

    .. math::
        r, u = \sigma(\Theta_{r,u} \star_{E} [X_t, H_{t-1}]), \quad
        C = \tanh(\Theta_C \star_{E} [X_t, r \odot H_{t-1}]), \quad
        H_t = u \odot H_{t-1} + (1 - u) \odot C, \qquad
        \hat Y_n = W H_{L,n} + b

    AGCRN learns its graph and **ignores the given one** (declared in ``capabilities``).
    The forward pass runs the layers through :func:`node_adaptive_gru` (the same function as
    unrolling each ``layers[j]``, computed node-major with the weights generated once).

    Args:
        in_channels: input value features ``F``.
        out_channels: forecast features ``F_out``.
        horizon: ``H``.
        num_nodes: ``N`` (node embeddings).
        num_covariates: covariate channels ``C`` (0 = none).
        hidden: GRU units per node (paper: 64). Default 64.
        layers: stacked cells (paper: 2). Default 2.
        embedding_dim: node-embedding size ``d`` (paper: 10 on PEMSD4, 2 on PEMSD8).
            Default 10.
        k: Chebyshev terms (paper's ``cheb_k``: 2). Default 2.

    Shapes:
        x: [B, L, N, in_channels]; covariates: [B, L + H, 1 or N, C] or ``None``
        edge_index, edge_weight: accepted and ignored
        output: [B, H, N, out_channels]

    Differences from the paper: the calendar covariates (sin/cos time of day and day of
    week) are input channels, as for every stgraph model (the paper feeds the values only);
    the embeddings are standard normal and the weight pools scaled for them (the paper's code
    Xavier-initialises every matrix, embeddings included).
    """

    capabilities = Capabilities(uses_graph=False, uses_edge_weights=False, adaptive_graph=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        horizon: int,
        num_nodes: int,
        num_covariates: int = 2,
        hidden: int = 64,
        layers: int = 2,
        embedding_dim: int = 10,
        k: int = 2,
    ) -> None:
        super().__init__()
        self.num_covariates = num_covariates
        self.adjacency = AdaptiveAdjacency(num_nodes, embedding_dim, symmetric=True)

        def conv(i: int, o: int) -> nn.Module:
            return NodeAdaptiveGraphConv(i, o, self.adjacency, k)

        first = in_channels + covariate_width(num_covariates)
        self.layers = nn.ModuleList(
            RecurrentLayer(GraphGRUCell(first if j == 0 else hidden, hidden, conv))
            for j in range(layers)
        )
        # mode="last" reads only the last hidden state, so the lookback is not needed.
        self.head = HorizonHead(hidden, 1, horizon, out_channels, persistence=False)

    def reset_parameters(self) -> None:
        """Re-initialise the embeddings, every cell and the read-out."""
        self.adjacency.reset_parameters()
        for layer in self.layers:
            layer.reset_parameters()  # type: ignore[operator]
        self.head.reset_parameters()

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor | None = None,
        edge_weight: Tensor | None = None,
        covariates: Tensor | None = None,
    ) -> Tensor:
        # node-major [N, L, B, C] through all layers (node_adaptive_gru), one graph S
        h = with_time_features(x, covariates, self.num_covariates).permute(2, 1, 0, 3)
        s = self.adjacency()
        for layer in self.layers:
            h, last = node_adaptive_gru(h, layer.cell, s)  # type: ignore[arg-type]
        out: Tensor = self.head(last.transpose(0, 1).unsqueeze(1), x)
        return out
