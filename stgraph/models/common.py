"""Pieces shared by the registered models: covariate inputs and the horizon read-out."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from stgraph.nn import calendar_fourier


def covariate_width(num_covariates: int) -> int:
    """Input channels that :func:`time_features` produces for ``C`` covariate channels: 4
    periodic calendar features (sin/cos of time of day and day of week) + ``C - 2`` others."""
    return 0 if num_covariates == 0 else 4 + num_covariates - 2


def time_features(covariates: Tensor | None, num_covariates: int, like: Tensor) -> Tensor:
    """Per-step covariate inputs broadcast to every node (zeros when ``covariates`` is None).

    Args:
        covariates: stgraph covariates (channel 0 time of day, 1 day of week, then others).
        num_covariates: ``C`` the model was built for.
        like: a tensor with the wanted ``[B, S, N, ...]`` leading shape, dtype and device.

    Shapes:
        covariates: [B, S, 1 or N, C] -> [B, S, N, covariate_width(C)]
    """
    b, s, n = like.shape[0], like.shape[1], like.shape[2]
    width = covariate_width(num_covariates)
    if covariates is None or width == 0:
        return like.new_zeros(b, s, n, width)
    feats = torch.cat([calendar_fourier(covariates[:, :s]), covariates[:, :s, :, 2:]], -1)
    return feats.expand(b, s, n, -1)


def with_time_features(x: Tensor, covariates: Tensor | None, num_covariates: int) -> Tensor:
    """Values of the ``L`` input steps concatenated with their covariate features.

    Shapes:
        x: [B, L, N, F] -> [B, L, N, F + covariate_width(C)]
    """
    return torch.cat([x, time_features(covariates, num_covariates, x)], -1)


class HorizonHead(nn.Module):
    r"""Read-out from encoded history to all ``H`` forecast steps at once.

    ``mode="last"`` reads the last encoded step, ``mode="flatten"`` all ``L`` steps:

    .. math::
        \hat Y = W\, \mathrm{vec}(h_{L}) + b \quad\text{or}\quad
        \hat Y = W\, \mathrm{vec}(h_{1..L}) + b

    reshaped to ``[H, F_out]`` per node; with ``persistence`` the last observed input is added
    (the network forecasts the change from the latest observation).

    Args:
        dim: encoded feature size ``d``.
        lookback: ``L`` (used by ``"flatten"``).
        horizon: ``H``.
        out_channels: ``F_out``.
        mode: ``"last"`` or ``"flatten"``.
        persistence: add ``x[:, -1]`` (first ``F_out`` channels) to every step.

    Shapes:
        h: [B, L, N, d]; x: [B, L, N, F >= F_out] -> [B, H, N, F_out]
    """

    def __init__(
        self,
        dim: int,
        lookback: int,
        horizon: int,
        out_channels: int,
        mode: str = "last",
        persistence: bool = True,
    ) -> None:
        super().__init__()
        if mode not in ("last", "flatten"):
            raise ValueError(f"mode must be 'last' or 'flatten', got {mode!r}")
        self.horizon, self.out_channels, self.mode = horizon, out_channels, mode
        self.persistence = persistence
        self.lin = nn.Linear(dim * (lookback if mode == "flatten" else 1), horizon * out_channels)

    def reset_parameters(self) -> None:
        """Default ``nn.Linear`` initialisation."""
        self.lin.reset_parameters()

    def forward(self, h: Tensor, x: Tensor) -> Tensor:
        b, _, n, _ = h.shape
        z = h[:, -1] if self.mode == "last" else h.permute(0, 2, 1, 3).reshape(b, n, -1)
        out = self.lin(z).reshape(b, n, self.horizon, self.out_channels).transpose(1, 2)
        return out + x[:, -1:, :, : self.out_channels] if self.persistence else out

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, persistence={self.persistence}"
