"""Plain LSTM and GRU forecasters: one recurrent encoder shared by every node, no graph
(seed article secs. 5.2.2 and 5.2.3)."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from stgraph.models.common import HorizonHead, covariate_width, with_time_features
from stgraph.models.registry import Capabilities, register_model
from stgraph.nn import TemporalGRU, TemporalLSTM


class _SequenceForecaster(nn.Module):
    r"""Per-node recurrent forecaster: the values of every node and the calendar features of
    their steps run through a stacked recurrent network whose weights all nodes share, and a
    dense layer maps the last hidden state to the ``H`` forecasts, added to the last
    observation (the network forecasts the change). Nodes are independent: the graph is
    ignored, so this is the temporal-only baseline of the seed article (sec. 3.1 "time-series
    models", equations in secs. 5.2.2 LSTM and 5.2.3 GRU).

    .. math::
        h^{(1)}_{t,i} = \mathrm{RNN}([x_{t,i}; \tau_t], h^{(1)}_{t-1,i}), \quad
        h^{(l)}_{t,i} = \mathrm{RNN}(h^{(l-1)}_{t,i}, h^{(l)}_{t-1,i}), \quad
        \hat y_{t+1..t+H,\,i} = x_{L,i} + W h^{(\mathrm{last})}_{L,i} + b

    where :math:`\tau_t` are the sin/cos calendar features (and any further covariates) and
    RNN is the LSTM or GRU cell (:class:`~stgraph.nn.TemporalLSTM`,
    :class:`~stgraph.nn.TemporalGRU`).

    Defaults: two layers of 64 units, the recurrent size of DCRNN (Li et al., ICLR 2018,
    sec. 4.2), whose encoder this is without the diffusion convolution.

    Differences from the seed article: the article's LSTM (sec. 5.2.2) drops the tanh on
    the cell state and has a spurious first :math:`h_t` equation, and its GRU (sec. 5.2.3)
    omits :math:`x_t` from the candidate; the standard cells (Hochreiter & Schmidhuber 1997
    with forget gate; Cho et al., EMNLP 2014) are used. All horizon steps are read out at
    once from the last state (no autoregressive decoder), and the last observation is added.

    Args:
        in_channels: input value features ``F``.
        out_channels: forecast features ``F_out``.
        lookback: ``L``.
        horizon: ``H``.
        num_covariates: covariate channels ``C``.
        hidden: hidden size of every layer.
        layers: stacked recurrent layers.
        dropout: dropout between stacked layers (training only).

    Shapes:
        x: [B, L, N, in_channels]; covariates: [B, L + H, 1 or N, C] or ``None``
        edge_index, edge_weight: ignored
        output: [B, H, N, out_channels]
    """

    rnn: ClassVar[type[TemporalLSTM] | type[TemporalGRU]]
    capabilities = Capabilities(uses_graph=False, uses_edge_weights=False)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        lookback: int,
        horizon: int,
        num_covariates: int = 2,
        hidden: int = 64,
        layers: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.num_covariates = num_covariates
        width = in_channels + covariate_width(num_covariates)
        self.encoder = self.rnn(width, hidden, layers=layers, dropout=dropout)
        self.head = HorizonHead(hidden, lookback, horizon, out_channels, mode="last")
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default initialisation of the recurrent layers and the read-out; an
        LSTM's forget-gate bias starts at 1 (keep the memory; Gers et al., 2000;
        Jozefowicz et al., ICML 2015)."""
        self.encoder.reset_parameters()
        self.head.reset_parameters()
        rnn = self.encoder.rnn
        if isinstance(rnn, nn.LSTM):
            h = rnn.hidden_size
            with torch.no_grad():
                for name, bias in rnn.named_parameters():
                    if name.startswith("bias_ih"):  # gate order i, f, g, o
                        bias[h : 2 * h].fill_(1.0)

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor | None = None,
        edge_weight: Tensor | None = None,
        covariates: Tensor | None = None,
    ) -> Tensor:
        h = self.encoder(with_time_features(x, covariates, self.num_covariates))
        out: Tensor = self.head(h, x)
        return out


@register_model("lstm", "LSTM over every node's own history (weights shared, graph ignored)")
class LSTMForecaster(_SequenceForecaster):
    """LSTM forecaster (seed article secs. 3.3 and 5.2.2); see :class:`_SequenceForecaster`."""

    rnn = TemporalLSTM


@register_model("gru", "GRU over every node's own history (weights shared, graph ignored)")
class GRUForecaster(_SequenceForecaster):
    """GRU forecaster (seed article secs. 3.3 and 5.2.3); see :class:`_SequenceForecaster`."""

    rnn = TemporalGRU
