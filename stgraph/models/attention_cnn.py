"""Attention-CNN forecaster (seed article sec. 6.2.1)."""

from __future__ import annotations

import itertools

from torch import Tensor, nn

from stgraph.models.common import add_last_value, covariate_width, with_time_features
from stgraph.models.registry import Capabilities, register_model
from stgraph.nn import AttentionCNN


@register_model(
    "att-cnn",
    "attention-CNN: graph conv over time-as-channels + channel and node attention (CBAM-style)",
)
class AttentionCNNForecaster(nn.Module):
    r"""Attention-CNN forecaster (seed article sec. 6.2.1): the ``L`` input steps are stacked
    as channels of every sensor (as a CNN stacks frames), attention-CNN blocks
    (:class:`~stgraph.nn.AttentionCNN`: convolution, channel attention, spatial attention)
    extract features, and a dense layer maps them to the ``H`` forecasts, added to the last
    observation. The convolution is a graph convolution; on a lattice graph it acts on the
    grid.

    .. math::
        Z^0 = [x_1; \dots; x_L], \quad Z^{l} = \mathrm{AttCNN}(Z^{l-1}), \quad
        \hat y = x_L + W Z^{\mathrm{last}} + b

    Args:
        in_channels: input value features ``F``.
        out_channels: forecast features ``F_out``.
        lookback: ``L``.
        horizon: ``H``.
        num_covariates: covariate channels ``C``.
        dim: feature size of the blocks.
        blocks: number of attention-CNN blocks.

    Shapes:
        x: [B, L, N, in_channels]; covariates: [B, L + H, 1 or N, C] or ``None``
        output: [B, H, N, out_channels]
    """

    capabilities = Capabilities(
        whole_graph="its channel attention pools every channel over all N nodes"
    )

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        lookback: int,
        horizon: int,
        num_covariates: int = 2,
        dim: int = 64,
        blocks: int = 2,
    ) -> None:
        super().__init__()
        self.num_covariates, self.horizon, self.out_channels = num_covariates, horizon, out_channels
        width = [lookback * (in_channels + covariate_width(num_covariates))] + [dim] * blocks
        self.blocks = nn.ModuleList(AttentionCNN(a, b) for a, b in itertools.pairwise(width))
        self.read = nn.Linear(dim, horizon * out_channels)

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        covariates: Tensor | None = None,
    ) -> Tensor:
        b, _lookback, n, _ = x.shape
        z = with_time_features(x, covariates, self.num_covariates)
        z = z.permute(0, 2, 1, 3).reshape(b, n, -1)  # time stacked as channels
        for block in self.blocks:
            z = block(z, edge_index, edge_weight)
        out = self.read(z).reshape(b, n, self.horizon, self.out_channels).transpose(1, 2)
        return add_last_value(out, x)
