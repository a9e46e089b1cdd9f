"""CNN + LSTM: spatial convolution per step, then an LSTM per node (seed article sec. 5.4.1)."""

from __future__ import annotations

import itertools

from torch import Tensor, nn

from stgraph.models.common import HorizonHead, covariate_width, with_time_features
from stgraph.models.registry import register_model
from stgraph.nn import GCNConv, TemporalLSTM


@register_model("cnn-lstm", "graph conv at every step, then an LSTM over time per node (CNN+LSTM)")
class CNNLSTM(nn.Module):
    r"""CNN + LSTM forecaster (seed article secs. 5.1.4 and 5.4.1): a spatial convolution
    extracts features of every time step, an LSTM runs over each node's feature sequence and
    a dense layer maps its last state to the forecasts (:math:`y = \mathrm{Dense}(h_L)`). On
    a sensor graph the convolution is a graph convolution (a lattice graph makes it a grid
    CNN).

    .. math::
        c_t = \mathrm{ReLU}(\mathrm{GCN}(x_t)), \quad h_t = \mathrm{LSTM}(c_t, h_{t-1}), \quad
        \hat y_{t+1..t+H} = x_t + W h_L + b

    Args:
        in_channels: input value features ``F``.
        out_channels: forecast features ``F_out``.
        lookback: ``L``.
        horizon: ``H``.
        num_covariates: covariate channels ``C``.
        dim: convolution and LSTM size.
        conv_layers: stacked graph convolutions per step.
        lstm_layers: stacked LSTM layers.

    Shapes:
        x: [B, L, N, in_channels]; covariates: [B, L + H, 1 or N, C] or ``None``
        output: [B, H, N, out_channels]
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        lookback: int,
        horizon: int,
        num_covariates: int = 2,
        dim: int = 32,
        conv_layers: int = 2,
        lstm_layers: int = 1,
    ) -> None:
        super().__init__()
        self.num_covariates = num_covariates
        width = [in_channels + covariate_width(num_covariates)] + [dim] * conv_layers
        self.convs = nn.ModuleList(GCNConv(a, b) for a, b in itertools.pairwise(width))
        self.lstm = TemporalLSTM(dim, dim, layers=lstm_layers)
        self.head = HorizonHead(dim, lookback, horizon, out_channels, mode="last")

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        covariates: Tensor | None = None,
    ) -> Tensor:
        h = with_time_features(x, covariates, self.num_covariates)
        for conv in self.convs:
            h = conv(h, edge_index, edge_weight).relu()
        out: Tensor = self.head(self.lstm(h), x)
        return out
