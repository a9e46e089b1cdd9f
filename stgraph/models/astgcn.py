"""ASTGCN: spatial and temporal attention around Chebyshev graph and temporal convolutions."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stgraph.models.common import HorizonHead, covariate_width, with_time_features
from stgraph.models.registry import Capabilities, register_model
from stgraph.models.stid import require_lookback
from stgraph.nn import graph_operator


class ASTGCNAttention(nn.Module):
    r"""ASTGCN's spatial or temporal attention (Guo, Lin, Feng, Song & Wan, AAAI 2019,
    sec. "Spatial-temporal attention", eqs. 1-4): scores between the ``A`` positions of the
    attended axis from bilinear products of the input reduced over the ``O`` positions of the
    other axis and over the channels, then a softmax over the attended positions.

    For the attended-axis-first input :math:`\chi \in \mathbb{R}^{A \times O \times C}`:

    .. math::
        S = V \cdot \sigma\big((\chi w_1) W_2 (\chi w_3)^\top + b\big), \qquad
        S'_{ij} = \frac{\exp S_{ij}}{\sum_{j'} \exp S_{ij'}}

    with :math:`w_1 \in \mathbb{R}^{O}` (reduces the other axis), :math:`W_2 \in
    \mathbb{R}^{C \times O}`, :math:`w_3 \in \mathbb{R}^{C}` (reduces the channels) and
    :math:`V, b \in \mathbb{R}^{A \times A}`. Spatial attention (eq. 1-2) attends the
    ``A = N`` nodes over ``O = T`` steps (:math:`W_1, W_2, W_3, V_s, b_s`); temporal
    attention (eq. 3-4) the ``A = T`` steps over ``O = N`` nodes
    (:math:`U_1, U_2, U_3, V_e, b_e`). Every row of :math:`S'` sums to 1: position ``i``
    reads a convex combination of the positions ``j``.

    Args:
        channels: input feature size ``C``.
        attended: size ``A`` of the attended axis.
        other: size ``O`` of the reduced axis.

    Shapes:
        x: [B, A, O, channels] -> [B, A, A]
    """

    def __init__(self, channels: int, attended: int, other: int) -> None:
        super().__init__()
        self.w1 = nn.Parameter(torch.empty(other))
        self.w2 = nn.Parameter(torch.empty(channels, other))
        self.w3 = nn.Parameter(torch.empty(channels))
        self.v = nn.Parameter(torch.empty(attended, attended))
        self.b = nn.Parameter(torch.empty(attended, attended))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Glorot-uniform matrices, vectors uniform in :math:`\pm 1/\sqrt{\mathrm{len}}`,
        zero bias."""
        nn.init.xavier_uniform_(self.w2)
        nn.init.xavier_uniform_(self.v)
        for w in (self.w1, self.w3):
            bound = 1.0 / math.sqrt(w.numel())
            nn.init.uniform_(w, -bound, bound)
        nn.init.zeros_(self.b)

    def forward(self, x: Tensor) -> Tensor:
        lhs = torch.einsum("baoc,o->bac", x, self.w1) @ self.w2  # [B, A, O]
        rhs = torch.einsum("baoc,c->boa", x, self.w3)  # [B, O, A]
        scores = self.v @ torch.sigmoid(lhs @ rhs + self.b)
        return scores.softmax(dim=-1)


def chebyshev_basis(scaled_laplacian: Tensor, k: int) -> Tensor:
    r"""Dense Chebyshev polynomials :math:`T_0(\tilde L), \dots, T_{K-1}(\tilde L)`.

    .. math::
        T_0 = I, \quad T_1 = \tilde L, \quad T_k = 2 \tilde L T_{k-1} - T_{k-2}

    Shapes:
        scaled_laplacian: [N, N] -> [K, N, N]
    """
    terms = [torch.eye(scaled_laplacian.shape[0]).to(scaled_laplacian)]
    if k > 1:
        terms.append(scaled_laplacian)
    while len(terms) < k:
        terms.append(2 * scaled_laplacian @ terms[-1] - terms[-2])
    return torch.stack(terms)


class ASTGCNBlock(nn.Module):
    r"""One spatial-temporal block of ASTGCN (Guo et al., AAAI 2019, fig. 2, eq. 6).

    Temporal attention :math:`E'` re-weights the input steps, spatial attention :math:`S'`
    (computed on the re-weighted input) modulates every Chebyshev term, a temporal
    convolution of width ``K_t`` ("same" padding) follows, and a 1x1 residual, ReLU and
    layer norm close the block:

    .. math::
        \hat X_t = \sum_s E'_{ts} X_s, \qquad
        G_t = \mathrm{ReLU}\Big(\sum_{k=0}^{K-1} (T_k(\tilde L) \odot S') \hat X_t
        \Theta_k\Big), \qquad
        Y = \mathrm{LN}\big(\mathrm{ReLU}(X W_r + \Phi * G)\big)

    where :math:`(T_k \odot S')_{ij}` weighs what node ``i`` receives from node ``j``.

    Args:
        in_channels: input feature size ``C``.
        hidden: Chebyshev filters (paper: 64).
        dim: temporal filters, the block's output size (paper: 64).
        num_nodes: ``N`` (spatial attention).
        lookback: ``T`` (temporal attention).
        k: Chebyshev terms ``K`` (paper: 3).
        kernel_size: temporal kernel ``K_t``, odd (authors' code: 3).

    Shapes:
        x: [B, T, N, in_channels]; basis: [K, N, N] -> [B, T, N, dim]
    """

    def __init__(
        self,
        in_channels: int,
        hidden: int,
        dim: int,
        num_nodes: int,
        lookback: int,
        k: int,
        kernel_size: int,
    ) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (same padding), got {kernel_size}")
        self.kernel_size = kernel_size
        self.temporal_attention = ASTGCNAttention(in_channels, lookback, num_nodes)
        self.spatial_attention = ASTGCNAttention(in_channels, num_nodes, lookback)
        self.cheb = nn.Linear(k * in_channels, hidden)
        self.time_conv = nn.Linear(kernel_size * hidden, dim)
        self.residual = nn.Linear(in_channels, dim)
        self.norm = nn.LayerNorm(dim)

    def reset_parameters(self) -> None:
        """Re-initialise both attentions, the three linear maps and the layer norm."""
        for m in (
            self.temporal_attention,
            self.spatial_attention,
            self.cheb,
            self.time_conv,
            self.residual,
            self.norm,
        ):
            m.reset_parameters()

    def temporal_conv(self, g: Tensor) -> Tensor:
        """Width-``K_t`` convolution along time with zero "same" padding.

        Shapes: g: [B, T, N, hidden] -> [B, T, N, dim]"""
        pad = self.kernel_size // 2
        windows = F.pad(g, (0, 0, 0, 0, pad, pad)).unfold(1, self.kernel_size, 1)
        out: Tensor = self.time_conv(windows.flatten(-2))
        return out

    def forward(self, x: Tensor, basis: Tensor) -> Tensor:
        e = self.temporal_attention(x)  # [B, T, T]
        xh = torch.einsum("bts,bsnc->btnc", e, x)
        s = self.spatial_attention(xh.transpose(1, 2))  # [B, N, N]
        terms = torch.einsum("kij,bij,btjc->btikc", basis, s, xh).flatten(-2)
        g = self.cheb(terms).relu()
        out: Tensor = self.norm(torch.relu(self.residual(x) + self.temporal_conv(g)))
        return out


@register_model("astgcn", "ASTGCN: spatial/temporal attention + Chebyshev graph conv (AAAI 2019)")
class ASTGCN(nn.Module):
    r"""Attention-based Spatial-Temporal Graph Convolutional Network (Guo, Lin, Feng, Song &
    Wan, AAAI 2019), its recent component.

    ``blocks`` :class:`ASTGCNBlock` s on the scaled Laplacian
    :math:`\tilde L = 2 L / \lambda_{max} - I` of :math:`L = I - D^{-1/2} A D^{-1/2}`, then a
    final convolution over all ``T`` steps and features (the authors' ``final_conv``: a
    linear map of every node's flattened ``[T, dim]`` history) to all ``H`` steps:

    .. math::
        X^{0} = [X, \mathrm{time}(X)], \qquad X^{r} = \mathrm{Block}^r(X^{r-1}), \qquad
        \hat Y_i = W\, \mathrm{vec}(X^{\mathrm{blocks}}_{:, i}) + b

    The attention matrices tie the model to ``num_nodes`` and ``lookback``; the graph is
    read on every call (a time-varying graph is fine).

    Paper defaults: 2 blocks, Chebyshev order :math:`K = 3`, 64 Chebyshev filters, 64
    temporal filters (width 3, stride 1 in the authors' code for the recent component).

    Differences from the paper: only the recent component (the paper also fuses a daily-
    and a weekly-periodic component with learned weights; the windows here hold the ``L``
    latest steps); the calendar features (sin/cos time of day and day of week) are input
    channels; :math:`\lambda_{max} = 2` so :math:`\tilde L = -D^{-1/2} A D^{-1/2}` (as
    :class:`~stgraph.nn.ChebConv`; the authors' code uses :math:`D - A` and its exact
    :math:`\lambda_{max}`); the spatial-attention softmax runs over the sending node of
    each row (paper, eq. 2; the authors' code normalises columns and transposes), and every
    re-weighted step is a convex combination of the input steps (as the authors' code; the
    paper's eq. 4 normalises rows but multiplies from the right); the graph
    convolution reads the temporally re-weighted input :math:`\hat X` (paper; the authors'
    code convolves the raw block input).

    Args:
        in_channels: input value features ``F``.
        out_channels: forecast features ``F_out``.
        lookback: ``L`` (temporal attention, output layer).
        horizon: ``H``.
        num_nodes: ``N`` (spatial attention).
        num_covariates: covariate channels ``C``.
        hidden: Chebyshev filters (paper: 64). Default 64.
        dim: temporal filters, the block width (paper: 64). Default 64.
        blocks: spatial-temporal blocks (paper: 2). Default 2.
        k: Chebyshev terms ``K`` (paper: 3). Default 3.
        kernel_size: temporal kernel width, odd (authors' code: 3). Default 3.

    Shapes:
        x: [B, L, N, in_channels]; covariates: [B, L + H, 1 or N, C] or ``None``
        edge_index: [2, E], edge_weight: [E] (raw, symmetric graph expected)
        output: [B, H, N, out_channels]
    """

    capabilities = Capabilities(
        whole_graph="it attends over all N nodes with [N, N] spatial-attention weights"
    )

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        lookback: int,
        horizon: int,
        num_nodes: int,
        num_covariates: int = 2,
        hidden: int = 64,
        dim: int = 64,
        blocks: int = 2,
        k: int = 3,
        kernel_size: int = 3,
    ) -> None:
        super().__init__()
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.lookback, self.num_nodes, self.num_covariates, self.k = (
            lookback,
            num_nodes,
            num_covariates,
            k,
        )
        first = in_channels + covariate_width(num_covariates)
        self.blocks = nn.ModuleList(
            ASTGCNBlock(first if i == 0 else dim, hidden, dim, num_nodes, lookback, k, kernel_size)
            for i in range(blocks)
        )
        self.head = HorizonHead(
            dim, lookback, horizon, out_channels, mode="flatten", persistence=False
        )

    def reset_parameters(self) -> None:
        """Re-initialise every block and the output layer."""
        for m in [*self.blocks, self.head]:
            m.reset_parameters()

    def basis(self, edge_index: Tensor, edge_weight: Tensor | None, like: Tensor) -> Tensor:
        r"""Dense :math:`T_k(\tilde L)`, ``k < K``, in the dtype and device of ``like``.

        Shapes: edge_index: [2, E], edge_weight: [E] -> [K, N, N]"""
        op = graph_operator(
            self, edge_index, edge_weight, self.num_nodes, "sym", scale=-1.0, layout="dense"
        )
        return chebyshev_basis(op.matrix_for("dense", like), self.k)

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        covariates: Tensor | None = None,
    ) -> Tensor:
        require_lookback("astgcn", self.lookback, x)
        basis = self.basis(edge_index, edge_weight, x)
        h = with_time_features(x, covariates, self.num_covariates)
        for block in self.blocks:
            h = block(h, basis)
        out: Tensor = self.head(h, x)
        return out
