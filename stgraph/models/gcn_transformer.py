"""Graph convolution + temporal multi-head attention encoder-decoder."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from stgraph.models.common import add_last_value
from stgraph.models.registry import Capabilities, register_model
from stgraph.nn import (
    CalendarEmbedding,
    FeedForward,
    GCNConv,
    ResidualSTBlock,
    TemporalAttention,
    sinusoidal_positions,
)


class STBlock(ResidualSTBlock):
    r"""Pre-norm spatio-temporal block: residual GCN, temporal multi-head self-attention and
    feed-forward sub-layers, each with layer norm and dropout (seed article sec. 4.4), i.e.
    :class:`~stgraph.nn.ResidualSTBlock` with :class:`~stgraph.nn.GCNConv` and
    :class:`~stgraph.nn.TemporalAttention`.

    Args:
        dim: feature size.
        heads: attention heads.
        dropout: dropout rate.
        persistence: add the last input step to every forecast step (residual forecasting).

    Shapes:
        h: [B, T, N, dim] -> [B, T, N, dim]
    """

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__(dim, GCNConv(dim, dim), TemporalAttention(dim, heads, dropout), dropout)


@register_model(
    "gcn-transformer", "GCN spatial layers + temporal multi-head attention encoder-decoder"
)
class GCNTransformer(nn.Module):
    r"""Graph-convolution + temporal-attention forecaster.

    Encoder: inputs are embedded (linear map of values + learned node embedding + calendar
    embedding + sinusoidal position) and passed through ``layers`` :class:`STBlock` s.
    Decoder: one query per forecast step (learned step embedding + calendar embedding of the
    target time + node embedding) cross-attends over the encoded history of its own node
    (seed article sec. 4.2, interactive attention), followed by a feed-forward layer and a
    linear read-out; all ``H`` steps are produced at once. With ``persistence=True`` (and
    ``F_out`` a multiple of ``F``: the location channels of a distributional head, see
    :func:`~stgraph.models.common.add_last_value`) the read-out is added to the last input
    step, so the network learns the change from the latest observation rather than the level:
    :math:`\hat y_{t+h} = x_t + g_h(\cdot)`.

    Args:
        in_channels: input value features ``F``.
        out_channels: forecast features ``F_out``.
        lookback: input steps ``L``.
        horizon: forecast steps ``H``.
        num_nodes: ``N`` (node embeddings).
        steps_per_day: time-of-day slots of the calendar embedding.
        num_covariates: covariate channels ``C`` (0 = none; channels beyond the first two are
            appended to the value inputs).
        dim: model size.
        heads: attention heads.
        layers: encoder blocks.
        dropout: dropout rate.

    Shapes:
        x: [B, L, N, in_channels]; covariates: [B, L + H, 1 or N, C] or ``None``
        edge_index: [2, E], edge_weight: [E]
        output: [B, H, N, out_channels]
    """

    capabilities = Capabilities(whole_graph="it has a learned embedding per node ([N, dim])")

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        lookback: int,
        horizon: int,
        num_nodes: int,
        steps_per_day: int = 288,
        num_covariates: int = 2,
        dim: int = 64,
        heads: int = 4,
        layers: int = 2,
        dropout: float = 0.1,
        persistence: bool = True,
    ) -> None:
        super().__init__()
        self.lookback, self.horizon, self.num_covariates = lookback, horizon, num_covariates
        self.in_channels = in_channels
        self.persistence = persistence and out_channels % in_channels == 0
        extra = max(num_covariates - 2, 0)
        self.inp = nn.Linear(in_channels + extra, dim)
        self.node_emb = nn.Parameter(torch.empty(num_nodes, dim))
        self.step_emb = nn.Parameter(torch.empty(horizon, dim))
        self.calendar = CalendarEmbedding(steps_per_day, dim) if num_covariates >= 2 else None
        self.register_buffer("pos", sinusoidal_positions(lookback, dim), persistent=False)
        self.blocks = nn.ModuleList(STBlock(dim, heads, dropout) for _ in range(layers))
        self.cross = TemporalAttention(dim, heads, dropout)
        self.norm_q, self.norm_m, self.norm_f, self.norm_o = (nn.LayerNorm(dim) for _ in range(4))
        self.ffn = FeedForward(dim, dropout=dropout)
        self.read = nn.Linear(dim, out_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise embeddings (normal, std 0.02) and every sub-layer."""
        nn.init.normal_(self.node_emb, std=0.02)
        nn.init.normal_(self.step_emb, std=0.02)
        for m in self.modules():
            reset = getattr(m, "reset_parameters", None)
            if m is not self and callable(reset):
                reset()

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        covariates: Tensor | None = None,
    ) -> Tensor:
        b, lookback, n, _ = x.shape
        if lookback != self.lookback:
            raise ValueError(f"model was built for lookback {self.lookback}, got {lookback}")
        if self.num_covariates > 2 and covariates is not None:
            x = torch.cat([x, covariates[:, :lookback, :, 2:].expand(b, lookback, n, -1)], -1)
        pos = self.get_buffer("pos")
        h = self.inp(x) + self.node_emb + pos[:, None, :]
        q = (self.step_emb[:, None, :] + self.node_emb).expand(b, -1, -1, -1)
        if self.calendar is not None and covariates is not None:
            cal: Tensor = self.calendar(covariates)
            h = h + cal[:, :lookback]
            q = q + cal[:, lookback:]
        for block in self.blocks:
            h = block(h, edge_index, edge_weight)
        q = q + self.cross(self.norm_q(q), self.norm_m(h))
        q = q + self.ffn(self.norm_f(q))
        out = self.read(self.norm_o(q))
        return add_last_value(out, x, self.in_channels) if self.persistence else out
