"""STAEformer: a vanilla transformer over time, then over nodes, on adaptive embeddings."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from stgraph.models.common import HorizonHead
from stgraph.models.registry import Capabilities, register_model
from stgraph.models.stid import CalendarIdentity, require_lookback
from stgraph.nn import MultiHeadAttention


class PostNormTransformerLayer(nn.Module):
    r"""A vanilla (post-norm) transformer encoder layer along one axis of ``[B, T, N, d]``
    (Vaswani et al., NeurIPS 2017, sec. 3.1; STAEformer's temporal and spatial layers, Liu
    et al., CIKM 2023, sec. 3.3).

    .. math::
        H' = \mathrm{LN}\big(H + \mathrm{Drop}(\mathrm{MHA}(H, H, H))\big), \qquad
        H'' = \mathrm{LN}\big(H' + \mathrm{Drop}(W_2\, \mathrm{ReLU}(W_1 H' + b_1) + b_2)\big)

    Args:
        dim: model size ``d`` (divisible by ``heads``).
        hidden: feed-forward size.
        heads: attention heads.
        dropout: dropout on the attention and feed-forward outputs.
        axis: the attended axis (``1`` time, ``2`` nodes).

    Shapes:
        h: [B, T, N, dim] -> [B, T, N, dim]
    """

    def __init__(self, dim: int, hidden: int, heads: int, dropout: float, axis: int) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(dim, heads, axis=axis)
        self.expand, self.contract = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def reset_parameters(self) -> None:
        """Glorot attention projections; default feed-forward and layer-norm initialisation."""
        self.attn.reset_parameters()
        for m in (self.expand, self.contract, self.norm1, self.norm2):
            m.reset_parameters()

    def forward(self, h: Tensor) -> Tensor:
        h = self.norm1(h + self.drop(self.attn(h)))
        out: Tensor = self.norm2(h + self.drop(self.contract(self.expand(h).relu())))
        return out


@register_model("staeformer", "STAEformer: transformer on spatio-temporal adaptive embeddings")
class STAEformer(nn.Module):
    r"""Spatio-Temporal Adaptive Embedding transformer (Liu, Dong, Jiang, Deng, Deng, Chen &
    Song, CIKM 2023).

    Every input step of every node is embedded as the concatenation of a projection of its
    values, the time-of-day and day-of-week embeddings of that step
    (:class:`~stgraph.models.stid.CalendarIdentity`) and a learned **spatio-temporal
    adaptive embedding** :math:`E_a \in \mathbb{R}^{L \times N \times d_a}` shared by all
    windows (sec. 3.2):

    .. math::
        Z_{t,i} = [\, W_f X_{t,i} + b_f \,\|\, T^{tod}_{t} \,\|\, T^{dow}_{t} \,\|\,
        E_{a,t,i} \,] \in \mathbb{R}^{d_h}, \qquad d_h = 3 d + d_a

    ``layers`` :class:`PostNormTransformerLayer` s attend along time (each node its own
    sequence), then ``layers`` along the nodes (each step its own set); the output layer is
    one linear map of every node's flattened ``[L, d_h]`` representation to all ``H`` steps
    (sec. 3.4):

    .. math::
        \hat Y_i = W_o\, \mathrm{vec}\big(\mathrm{Spatial}(\mathrm{Temporal}(Z))_{:, i}\big)
        + b_o

    The model **ignores the given graph** (declared in ``capabilities``); nodes interact by
    full self-attention, and :math:`E_a` ties it to the training nodes and lookback.

    Paper / authors' defaults: :math:`d = 24` (values, time of day, day of week),
    :math:`d_a = 80`, no separate spatial embedding, 3 temporal + 3 spatial layers, 4 heads,
    feed-forward 256, dropout 0.1.

    Differences from the paper: covariates beyond the calendar are ignored; the calendar
    tables start Normal(0, 0.02) (authors' code: PyTorch's standard normal) and :math:`E_a`
    Glorot-uniform (as the authors). With ``num_covariates = 0`` the calendar embeddings are
    left out (:math:`d_h = d + d_a`); without covariates they are zero.

    Args:
        in_channels: input value features ``F``.
        out_channels: forecast features ``F_out``.
        lookback: ``L`` (adaptive embedding and output layer).
        horizon: ``H``.
        num_nodes: ``N`` (adaptive embedding).
        num_covariates: covariate channels ``C`` (0 = no calendar).
        steps_per_day: time-of-day slots.
        dim: size ``d`` of the value, time-of-day and day-of-week embeddings (paper: 24).
        adaptive_dim: size :math:`d_a` of the adaptive embedding (paper: 80).
        hidden: feed-forward size (paper: 256).
        heads: attention heads, dividing :math:`d_h` (paper: 4).
        layers: temporal layers, and as many spatial layers (paper: 3).
        dropout: transformer dropout (paper: 0.1).

    Shapes:
        x: [B, L, N, in_channels]; covariates: [B, L + H, 1 or N, C] or ``None``
        edge_index, edge_weight: accepted and ignored
        output: [B, H, N, out_channels]
    """

    capabilities = Capabilities(
        uses_graph=False,
        uses_edge_weights=False,
        whole_graph="it has an adaptive embedding per node ([L, N, d]) and attends over all "
        "N nodes",
    )

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        lookback: int,
        horizon: int,
        num_nodes: int,
        num_covariates: int = 2,
        steps_per_day: int = 288,
        dim: int = 24,
        adaptive_dim: int = 80,
        hidden: int = 256,
        heads: int = 4,
        layers: int = 3,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.lookback = lookback
        self.value = nn.Linear(in_channels, dim)
        self.calendar = CalendarIdentity(steps_per_day, dim) if num_covariates >= 2 else None
        self.adaptive = nn.Parameter(torch.empty(lookback, num_nodes, adaptive_dim))
        width = dim * (3 if self.calendar is not None else 1) + adaptive_dim
        if width % heads:
            raise ValueError(
                f"staeformer: model size {width} (= embeddings + adaptive_dim) must be "
                f"divisible by heads={heads}"
            )
        self.width = width

        def stack(axis: int) -> nn.Sequential:
            return nn.Sequential(
                *(
                    PostNormTransformerLayer(width, hidden, heads, dropout, axis)
                    for _ in range(layers)
                )
            )

        self.temporal, self.spatial = stack(1), stack(2)
        self.head = HorizonHead(
            width, lookback, horizon, out_channels, mode="flatten", persistence=False
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform adaptive embedding; every layer re-initialised."""
        nn.init.xavier_uniform_(self.adaptive)
        for m in (self.value, self.calendar, *self.temporal, *self.spatial, self.head):
            if m is not None:
                m.reset_parameters()

    def embed(self, x: Tensor, covariates: Tensor | None) -> Tensor:
        """The input embedding :math:`Z`. Shapes: x [B, L, N, F] -> [B, L, N, d_h]."""
        b, steps, n, _ = x.shape
        parts = [self.value(x)]
        if self.calendar is not None:
            if covariates is None:
                parts.append(x.new_zeros(b, steps, n, 2 * self.calendar.dim))
            else:
                parts.append(self.calendar(covariates[:, :steps]).expand(b, steps, n, -1))
        parts.append(self.adaptive.expand(b, -1, -1, -1))
        return torch.cat(parts, dim=-1)

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor | None = None,
        edge_weight: Tensor | None = None,
        covariates: Tensor | None = None,
    ) -> Tensor:
        require_lookback("staeformer", self.lookback, x)
        h = self.spatial(self.temporal(self.embed(x, covariates)))
        out: Tensor = self.head(h, x)
        return out
