"""STGCN: spatio-temporal graph convolutional network (ST-Conv blocks + output layer)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from stgraph.models.common import HorizonHead, covariate_width, with_time_features
from stgraph.models.registry import Capabilities, register_model
from stgraph.nn import ChebConv, GatedTemporalConv


class GLUTemporalConv(nn.Module):
    r"""STGCN's temporal gated convolution (Yu, Yin & Zhu, IJCAI 2018, sec. 3.3, eq. 8;
    the gated linear unit of Dauphin et al., ICML 2017): an unpadded ("valid") convolution
    of width ``K_t`` along time whose output halves ``P, Q`` gate each other.

    .. math::
        \Gamma *_{\mathcal T} Y = P \odot \sigma(Q), \qquad
        [P\; Q] = \sum_{j=0}^{K_t - 1} W_j\, Y_{t + j} + b

    ``T`` input steps give ``T - K_t + 1`` output steps. The convolution is a
    :class:`~stgraph.nn.GatedTemporalConv` without its gate whose zero-padded first
    ``K_t - 1`` outputs are dropped.

    Where stgraph differs: none (the authors' code also adds the input, channel-aligned, to
    :math:`P`; the paper's eq. 8 has no such term and neither does this layer).

    Args:
        in_channels: input feature size.
        out_channels: output feature size (the convolution produces twice as many).
        kernel_size: temporal kernel ``K_t``.

    Shapes:
        x: [B, T, N, in_channels] -> [B, T - kernel_size + 1, N, out_channels]
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.conv = GatedTemporalConv(in_channels, 2 * out_channels, kernel_size, gated=False)

    def reset_parameters(self) -> None:
        """Glorot weights, zero biases."""
        self.conv.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        p, q = self.conv(x)[:, self.kernel_size - 1 :].chunk(2, dim=-1)
        return p * torch.sigmoid(q)


class STConvBlock(nn.Module):
    r"""STGCN's spatio-temporal convolutional block, the "sandwich" of two temporal gated
    convolutions around a Chebyshev graph convolution (Yu, Yin & Zhu, IJCAI 2018, sec. 3.4,
    eq. 9), then layer normalisation and dropout.

    .. math::
        v^{l+1} = \mathrm{Drop}\Big(\mathrm{LN}\big(\Gamma_1^l *_{\mathcal T}
        \mathrm{ReLU}(\Theta^l *_{\mathcal G} (\Gamma_0^l *_{\mathcal T} v^l))\big)\Big)

    The layer norm is over nodes and channels of every step (as in the authors' code), so
    the block is tied to ``num_nodes``.

    Args:
        in_channels: input feature size.
        dim: output size of both temporal convolutions (paper: 64).
        bottleneck: output size of the graph convolution (paper: 16).
        num_nodes: ``N`` (layer-norm shape).
        kernel_size: temporal kernel ``K_t`` (paper: 3).
        k: Chebyshev filter size ``K_s`` (paper: 3).
        dropout: dropout rate.

    Shapes:
        x: [B, T, N, in_channels]; edge_index: [2, E], edge_weight: [E]
        output: [B, T - 2 (kernel_size - 1), N, dim]
    """

    def __init__(
        self,
        in_channels: int,
        dim: int,
        bottleneck: int,
        num_nodes: int,
        kernel_size: int = 3,
        k: int = 3,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.first = GLUTemporalConv(in_channels, dim, kernel_size)
        self.spatial = ChebConv(dim, bottleneck, k=k)
        self.second = GLUTemporalConv(bottleneck, dim, kernel_size)
        self.norm = nn.LayerNorm([num_nodes, dim])
        self.drop = nn.Dropout(dropout)

    def reset_parameters(self) -> None:
        """Re-initialise the three convolutions and the layer norm."""
        for m in (self.first, self.spatial, self.second, self.norm):
            m.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None) -> Tensor:
        h = self.spatial(self.first(x), edge_index, edge_weight).relu()
        out: Tensor = self.drop(self.norm(self.second(h)))
        return out


def stgcn_min_lookback(blocks: int, kernel_size: int) -> int:
    """The shortest lookback STGCN accepts: each block's two temporal convolutions remove
    ``kernel_size - 1`` steps each and the output layer needs at least one step left."""
    return 2 * blocks * (kernel_size - 1) + 1


@register_model("stgcn", "ST-Conv blocks: gated temporal conv + Chebyshev graph conv (IJCAI 2018)")
class STGCN(nn.Module):
    r"""Spatio-Temporal Graph Convolutional Network (Yu, Yin & Zhu, IJCAI 2018, sec. 3,
    "STGCN(Cheb)").

    ``blocks`` :class:`STConvBlock` s shorten the ``L`` steps by ``2 (K_t - 1)`` each; the
    output layer is a temporal gated convolution over all remaining
    :math:`K_o = L - 2\,\mathrm{blocks}\,(K_t - 1)` steps, a layer norm and a fully
    connected map to the forecasts:

    .. math::
        v^{0} = [X, \mathrm{time}(X)], \quad v^{l+1} = \mathrm{STConv}^l(v^l), \quad
        \hat Y = W\, \mathrm{LN}\big(\Gamma_o *_{\mathcal T} v^{\mathrm{blocks}}\big) + b

    Every input step is in the receptive field (it is exactly ``L``); a lookback shorter
    than :func:`stgcn_min_lookback` is refused.

    Paper defaults: 2 blocks with channels (64, 16, 64), :math:`K_t = K_s = 3`,
    Chebyshev graph convolution, lookback 12; no dropout is reported.

    Where stgraph differs: the published model predicts one step (``H`` separately trained
    models for ``H`` horizons); here the output layer's final linear map produces all ``H``
    steps at once. The input is the value concatenated with its calendar features
    (:func:`~stgraph.models.common.with_time_features`). The authors' code adds, inside the
    output layer, a width-1 sigmoid convolution before the fully connected map and adds
    channel-aligned residuals in its temporal and graph convolutions; this is the paper's form
    without them. ``persistence=True`` adds the last observation (off: the published form).

    Args:
        in_channels: input value features ``F``.
        out_channels: forecast features ``F_out``.
        lookback: ``L`` (at least :func:`stgcn_min_lookback`, 9 by default).
        horizon: ``H``.
        num_nodes: ``N`` (layer-norm shapes).
        num_covariates: covariate channels ``C``.
        dim: temporal-convolution channels (paper: 64).
        bottleneck: graph-convolution channels (paper: 16).
        blocks: number of ST-Conv blocks (paper: 2).
        kernel_size: temporal kernel ``K_t`` (paper: 3).
        k: Chebyshev filter size ``K_s`` (paper: 3).
        dropout: dropout after every block (paper: none).
        persistence: forecast the change from the last observation (paper: no).

    Shapes:
        x: [B, L, N, in_channels]; covariates: [B, L + H, 1 or N, C] or ``None``
        edge_index: [2, E], edge_weight: [E]
        output: [B, H, N, out_channels]
    """

    capabilities = Capabilities(
        whole_graph="its layer norms normalise over [N, C], all nodes together"
    )

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        lookback: int,
        horizon: int,
        num_nodes: int,
        num_covariates: int = 2,
        dim: int = 64,
        bottleneck: int = 16,
        blocks: int = 2,
        kernel_size: int = 3,
        k: int = 3,
        dropout: float = 0.0,
        persistence: bool = False,
    ) -> None:
        super().__init__()
        need = stgcn_min_lookback(blocks, kernel_size)
        if lookback < need:
            raise ValueError(
                f"stgcn with {blocks} blocks of kernel_size={kernel_size} needs "
                f"lookback >= {need}, got lookback={lookback}"
            )
        self.lookback, self.num_covariates = lookback, num_covariates
        self.blocks = nn.ModuleList(
            STConvBlock(
                in_channels + covariate_width(num_covariates) if i == 0 else dim,
                dim,
                bottleneck,
                num_nodes,
                kernel_size,
                k,
                dropout,
            )
            for i in range(blocks)
        )
        self.out_conv = GLUTemporalConv(dim, dim, lookback - need + 1)
        self.out_norm = nn.LayerNorm([num_nodes, dim])
        self.head = HorizonHead(dim, 1, horizon, out_channels, persistence=persistence)

    def reset_parameters(self) -> None:
        """Re-initialise every block and the output layer."""
        for m in [*self.blocks, self.out_conv, self.out_norm, self.head]:
            m.reset_parameters()

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        covariates: Tensor | None = None,
    ) -> Tensor:
        if x.shape[1] != self.lookback:
            raise ValueError(f"stgcn was built for lookback={self.lookback}, got {x.shape[1]}")
        h = with_time_features(x, covariates, self.num_covariates)
        for block in self.blocks:
            h = block(h, edge_index, edge_weight)
        out: Tensor = self.head(self.out_norm(self.out_conv(h)), x)
        return out

    def extra_repr(self) -> str:
        return f"lookback={self.lookback}, output_kernel={self.out_conv.kernel_size}"
