"""STCN and ResSTCN: spatio-temporal convolution networks (seed article sec. 3.2)."""

from __future__ import annotations

from torch import Tensor, nn

from stgraph.models.common import HorizonHead, covariate_width, with_time_features
from stgraph.models.registry import register_model
from stgraph.nn import GatedTemporalConv, GCNConv


class _STConvLayer(nn.Module):
    r"""One STCN layer: a gated causal temporal convolution, then a graph convolution, ReLU
    and layer norm (the seed's :math:`\mathrm{output}^l = \sum_k w^l_k * \mathrm{input}^{l-1}_k
    + b^l` applied along time, then over the graph)."""

    def __init__(self, dim: int, kernel_size: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.temporal = GatedTemporalConv(dim, dim, kernel_size, dilation)
        self.spatial = GCNConv(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, h: Tensor, edge_index: Tensor, edge_weight: Tensor | None) -> Tensor:
        z = self.spatial(self.temporal(h), edge_index, edge_weight).relu()
        return self.drop(self.norm(z))


@register_model("stcn", "spatio-temporal conv net: gated dilated temporal conv + GCN layers")
class STCN(nn.Module):
    r"""Spatio-temporal convolution network (seed article sec. 3.2, STCN; the temporal-conv /
    graph-conv stacking of STGCN, Yu et al., IJCAI 2018).

    Layer ``l`` applies a gated dilated causal convolution along time (dilation ``2^l``)
    followed by a graph convolution over the sensors:

    .. math::
        H^{l} = \mathrm{LN}\big(\mathrm{ReLU}(\mathrm{GCN}(\mathrm{TCN}_{2^l}(H^{l-1})))\big)

    With ``residual=True`` (:class:`ResSTCN`) every layer adds its input,
    :math:`H^{l} = F(H^{l-1}) + H^{l-1}` (seed sec. 3.2, ResSTCN). A linear read-out of all
    ``L`` encoded steps gives the ``H`` forecasts, added to the last observation.

    Args:
        in_channels: input value features ``F``.
        out_channels: forecast features ``F_out``.
        lookback: ``L``.
        horizon: ``H``.
        num_covariates: covariate channels ``C``.
        dim: hidden size.
        layers: number of ST layers.
        kernel_size: temporal kernel size.
        dropout: dropout rate.
        residual: residual connections (ResSTCN).

    Shapes:
        x: [B, L, N, in_channels]; covariates: [B, L + H, 1 or N, C] or ``None``
        output: [B, H, N, out_channels]
    """

    residual_default = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        lookback: int,
        horizon: int,
        num_covariates: int = 2,
        dim: int = 32,
        layers: int = 3,
        kernel_size: int = 2,
        dropout: float = 0.1,
        residual: bool | None = None,
    ) -> None:
        super().__init__()
        self.num_covariates = num_covariates
        self.residual = self.residual_default if residual is None else residual
        self.inp = nn.Linear(in_channels + covariate_width(num_covariates), dim)
        self.layers = nn.ModuleList(
            _STConvLayer(dim, kernel_size, 2**i, dropout) for i in range(layers)
        )
        self.head = HorizonHead(dim, lookback, horizon, out_channels, mode="flatten")

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        covariates: Tensor | None = None,
    ) -> Tensor:
        h = self.inp(with_time_features(x, covariates, self.num_covariates))
        for layer in self.layers:
            h = layer(h, edge_index, edge_weight) + (h if self.residual else 0.0)
        out: Tensor = self.head(h, x)
        return out


@register_model("res-stcn", "STCN with residual connections: every ST conv layer adds its input")
class ResSTCN(STCN):
    """:class:`STCN` with residual connections (seed article sec. 3.2, ResSTCN)."""

    residual_default = True
