"""Attention-LSTM and attention-GRU forecasters (seed article secs. 6.1.1 and 6.1.2)."""

from __future__ import annotations

from functools import partial
from typing import ClassVar

from torch import Tensor, nn

from stgraph.models.common import HorizonHead, covariate_width, with_time_features
from stgraph.models.registry import register_model
from stgraph.nn import AttentionGRU, AttentionLSTM, GCNConv


class _AttentionRNNForecaster(nn.Module):
    r"""Attention-RNN forecaster: inputs are embedded, an attention-RNN whose gates are graph
    convolutions (gate injection) runs over the ``L`` steps, every step attending over the
    hidden states before it (seed secs. 6.1.1 / 6.1.2; query :math:`h_{t-1}`, keys and
    values :math:`h_1..h_{t-1}`, scaled dot-product scores), and a dense layer maps the last
    state to the ``H`` forecasts, added to the last observation.

    .. math::
        \alpha_t = \mathrm{softmax}\Big(\frac{h_{t-1} [h_1..h_{t-1}]^\top}{\sqrt d}\Big), \quad
        \tilde h_t = \sum_i \alpha_{t,i} h_i, \quad h_t = \mathrm{cell}(x_t, \tilde h_t), \quad
        \hat y = x_L + W h_L + b

    Args:
        in_channels: input value features ``F``.
        out_channels: forecast features ``F_out``.
        lookback: ``L``.
        horizon: ``H``.
        num_covariates: covariate channels ``C``.
        dim: hidden size.
        graph_gates: gates are graph convolutions (``False``: per-node linear gates).

    Shapes:
        x: [B, L, N, in_channels]; covariates: [B, L + H, 1 or N, C] or ``None``
        output: [B, H, N, out_channels]
    """

    rnn: ClassVar[type[nn.Module]]

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        lookback: int,
        horizon: int,
        num_covariates: int = 2,
        dim: int = 32,
        graph_gates: bool = True,
    ) -> None:
        super().__init__()
        self.num_covariates = num_covariates
        self.inp = nn.Linear(in_channels + covariate_width(num_covariates), dim)
        self.encoder = self.rnn(dim, dim, partial(GCNConv) if graph_gates else None)
        self.head = HorizonHead(dim, lookback, horizon, out_channels, mode="last")

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        covariates: Tensor | None = None,
    ) -> Tensor:
        h = self.inp(with_time_features(x, covariates, self.num_covariates))
        out: Tensor = self.head(self.encoder(h, edge_index, edge_weight), x)
        return out


@register_model("att-lstm", "LSTM with graph-conv gates attending over its past hidden states")
class AttentionLSTMForecaster(_AttentionRNNForecaster):
    """Attention-LSTM forecaster (seed article sec. 6.1.1); see the base class."""

    rnn = AttentionLSTM


@register_model("att-gru", "GRU with graph-conv gates attending over its past hidden states")
class AttentionGRUForecaster(_AttentionRNNForecaster):
    """Attention-GRU forecaster (seed article sec. 6.1.2); see the base class."""

    rnn = AttentionGRU
