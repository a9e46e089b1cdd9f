"""STID: an MLP on the window with spatial and temporal identity embeddings (CIKM 2022).

Also home of two helpers shared with the other embedding models (STAEformer, ASTGCN):
:class:`CalendarIdentity` and :func:`require_lookback`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from stgraph.models.registry import Capabilities, register_model
from stgraph.nn import CalendarEmbedding


def require_lookback(name: str, lookback: int, x: Tensor) -> None:
    """Refuse a window whose length is not the ``lookback`` the model was built for.

    Raises:
        ValueError: naming the model, the built lookback and the given length.
    """
    if x.shape[1] != lookback:
        raise ValueError(f"{name} was built for lookback={lookback}, got {x.shape[1]} steps")


class CalendarIdentity(CalendarEmbedding):
    r"""Time-of-day and day-of-week identity embeddings, **concatenated** (STID's
    :math:`T^{TiD}` and :math:`T^{DiW}`, Shao et al., CIKM 2022, sec. 3; STAEformer's
    periodicity embedding, Liu et al., CIKM 2023, sec. 3.2).

    .. math::
        E(t) = \big[\, T^{TiD}_{\mathrm{slot}(t)} \;\|\; T^{DiW}_{\mathrm{day}(t)} \,\big]
        \in \mathbb{R}^{2d}

    Slots are those of :class:`~stgraph.nn.CalendarEmbedding` (whose tables and
    Normal(0, 0.02) initialisation this reuses): ``floor(fraction * steps_per_day + 0.01)``
    and the day of week 0-6. Without covariates the embedding is zero.

    Args:
        steps_per_day: number of time-of-day slots.
        dim: size ``d`` of each table.

    Shapes:
        covariates: [..., C >= 2] (channel 0 time-of-day fraction, 1 day of week 0-6)
        output: [..., 2 * dim]
    """

    def forward(self, covariates: Tensor) -> Tensor:
        slot, day = self.slots(covariates)
        return torch.cat([self.tod(slot), self.dow(day)], dim=-1)


class ResidualMLP(nn.Module):
    r"""STID's encoder layer: a two-layer perceptron with a residual connection (Shao et
    al., CIKM 2022, eq. 4).

    .. math::
        H^{l+1} = \mathrm{FC}_2^l\big(\mathrm{Drop}(\mathrm{ReLU}(\mathrm{FC}_1^l(H^l)))\big)
        + H^l

    Args:
        dim: feature size (input, hidden and output).
        dropout: dropout after the activation.

    Shapes:
        h: [..., dim] -> [..., dim]
    """

    def __init__(self, dim: int, dropout: float = 0.15) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def reset_parameters(self) -> None:
        """Default ``nn.Linear`` initialisation."""
        self.fc1.reset_parameters()
        self.fc2.reset_parameters()

    def forward(self, h: Tensor) -> Tensor:
        out: Tensor = self.fc2(self.drop(self.fc1(h).relu())) + h
        return out


@register_model("stid", "STID: MLP with node / time-of-day / day-of-week identities (CIKM 2022)")
class STID(nn.Module):
    r"""Spatial-Temporal IDentity (Shao, Zhang, Wang, Wei & Xu, CIKM 2022).

    Every node's window is flattened and embedded (:math:`E^{ts}_i = W\,
    \mathrm{vec}(X_{i}) + b`, eq. 2), concatenated with its spatial identity :math:`E_i`
    and the time-of-day and day-of-week identities of the **last input step**
    (:class:`CalendarIdentity`, eq. 3), encoded by ``layers`` :class:`ResidualMLP` s and read
    out by a linear regression layer to all ``H`` steps (eq. 5):

    .. math::
        Z^0_i = [E^{ts}_i \,\|\, E_i \,\|\, T^{TiD}_{t_L} \,\|\, T^{DiW}_{t_L}], \qquad
        Z^{l+1} = \mathrm{ResMLP}^l(Z^l), \qquad \hat Y_i = W_o Z^{\mathrm{layers}}_i + b_o

    Nodes never exchange information: the model **ignores the given graph** (declared in
    ``capabilities``); it tells nodes apart by their learned identities only (tied to the
    training nodes).

    Paper defaults: all embeddings of size 32, 3 MLP layers; dropout 0.15 (authors' code).

    Differences from the paper: the input is the value channels only (the authors' code
    also feeds the raw time-of-day / day-of-week channels to the series embedding);
    covariates beyond the calendar are ignored; the identity tables start Normal(0, 0.02)
    (authors' code: Glorot uniform). With ``num_covariates = 0`` the temporal identities are
    left out.

    Args:
        in_channels: input value features ``F``.
        out_channels: forecast features ``F_out``.
        lookback: ``L`` (the series embedding reads all ``L`` steps).
        horizon: ``H``.
        num_nodes: ``N`` (spatial identities).
        num_covariates: covariate channels ``C`` (0 = no calendar).
        steps_per_day: time-of-day slots.
        dim: size of the series embedding and of every identity (paper: 32). Default 32.
        layers: residual MLP layers (paper: 3). Default 3.
        dropout: dropout inside every MLP layer (authors' code: 0.15). Default 0.15.

    Shapes:
        x: [B, L, N, in_channels]; covariates: [B, L + H, 1 or N, C] or ``None``
        edge_index, edge_weight: accepted and ignored
        output: [B, H, N, out_channels]
    """

    capabilities = Capabilities(
        uses_graph=False,
        uses_edge_weights=False,
        whole_graph="it has a learned identity per node ([N, dim])",
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
        dim: int = 32,
        layers: int = 3,
        dropout: float = 0.15,
    ) -> None:
        super().__init__()
        self.lookback, self.horizon, self.out_channels = lookback, horizon, out_channels
        self.series = nn.Linear(lookback * in_channels, dim)
        self.node = nn.Parameter(torch.empty(num_nodes, dim))
        self.calendar = CalendarIdentity(steps_per_day, dim) if num_covariates >= 2 else None
        width = dim * (4 if self.calendar is not None else 2)
        self.encoder = nn.Sequential(*(ResidualMLP(width, dropout) for _ in range(layers)))
        self.regression = nn.Linear(width, horizon * out_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform spatial identities; default initialisation of the rest."""
        nn.init.xavier_uniform_(self.node)
        for m in (self.series, self.calendar, *self.encoder, self.regression):
            if m is not None:
                m.reset_parameters()

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor | None = None,
        edge_weight: Tensor | None = None,
        covariates: Tensor | None = None,
    ) -> Tensor:
        require_lookback("stid", self.lookback, x)
        b, _, n, _ = x.shape
        parts = [self.series(x.transpose(1, 2).flatten(2)), self.node.expand(b, n, -1)]
        if self.calendar is not None:
            if covariates is None:
                parts.append(x.new_zeros(b, n, 2 * self.calendar.dim))
            else:
                parts.append(self.calendar(covariates[:, self.lookback - 1]).expand(b, n, -1))
        z = self.encoder(torch.cat(parts, dim=-1))
        out = self.regression(z).reshape(b, n, self.horizon, self.out_channels)
        return out.transpose(1, 2)
