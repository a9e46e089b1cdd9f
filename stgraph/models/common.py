"""Pieces shared by the registered models: covariate inputs, the horizon read-out and the
output distribution (point, quantiles or a Gaussian) that any model can be given."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from stgraph.nn import calendar_fourier

HEAD_KINDS = ("point", "quantile", "gaussian")
#: Quantile levels of a quantile head when none are given: the nine deciles (equally spaced,
#: so the mean pinball loss over them is a midpoint-rule approximation of the CRPS integral).
DEFAULT_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MIN_SCALE = 1e-3


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
        persistence: add ``x[:, -1]`` to every step (to the location channels of a
            distributional model, see :func:`add_last_value`).

    Shapes:
        h: [B, L, N, d]; x: [B, L, N, F] -> [B, H, N, F_out]
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
        return add_last_value(out, x) if self.persistence else out

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, persistence={self.persistence}"


def add_last_value(out: Tensor, x: Tensor, channels: int | None = None) -> Tensor:
    r"""Persistence read-out: the last input step added to the first ``channels`` output
    channels, :math:`\hat Y_{:, c} \mathrel{+}= X_{L, c}` for :math:`c < ` ``channels``.

    For a point model these are all ``F_out`` channels. A distributional model (see
    :class:`DistributionalOutput`) puts its location (median or mean) in the first ``F``
    channels, so the last value moves the location only, never the spread.

    Args:
        out: model output.
        x: model input (values first).
        channels: value channels ``F`` (default: ``min(F_out, F_in)``).

    Shapes:
        out: [B, H, N, F_out]; x: [B, L, N, F_in] -> [B, H, N, F_out]
    """
    f = min(out.shape[-1], x.shape[-1]) if channels is None else channels
    last = x[:, -1:, :, :f]
    if f == out.shape[-1]:
        return out + last
    return torch.cat([out[..., :f] + last, out[..., f:]], -1)


@dataclass(frozen=True)
class OutputHead:
    """The forecast distribution a model outputs (a structural fact, like its width).

    Args:
        kind: ``"point"`` (one value per target), ``"quantile"`` (one value per level) or
            ``"gaussian"`` (mean and standard deviation).
        levels: quantile levels of a ``"quantile"`` head, strictly inside (0, 1), strictly
            increasing (default :data:`DEFAULT_LEVELS`); empty for the other kinds.

    Raises:
        ValueError: naming the setting and what was expected.
    """

    kind: str = "point"
    levels: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in HEAD_KINDS:
            raise ValueError(f"head.kind {self.kind!r} is not one of {HEAD_KINDS}")
        levels = self.levels
        if isinstance(levels, str | bytes) or not isinstance(levels, list | tuple):
            raise ValueError(f"head.levels must be a list of numbers, got {levels!r}")
        if self.kind == "quantile" and not levels:
            levels = DEFAULT_LEVELS
        if self.kind != "quantile" and levels:
            raise ValueError(f"head.levels are for a quantile head, not a {self.kind} head")
        for q in levels:
            ok = isinstance(q, int | float) and not isinstance(q, bool) and math.isfinite(q)
            if not ok or not 0 < q < 1:
                raise ValueError(f"head.levels: {q!r} is not a number strictly inside (0, 1)")
        if any(b <= a for a, b in itertools.pairwise(levels)):
            raise ValueError(f"head.levels must be sorted and unique, got {list(levels)}")
        object.__setattr__(self, "levels", tuple(float(q) for q in levels))

    @property
    def probabilistic(self) -> bool:
        """Whether the head forecasts a distribution (not a point)."""
        return self.kind != "point"

    @property
    def width(self) -> int:
        """Outputs per target value ``K``: 1, the number of levels, or 2."""
        return {"point": 1, "gaussian": 2}.get(self.kind, len(self.levels))

    @property
    def loss(self) -> str:
        """The training loss that fits this head (a proper scoring rule for the
        distributional kinds): ``"pinball"``, ``"gaussian_nll"``, else ``""`` (any point loss)."""
        return {"quantile": "pinball", "gaussian": "gaussian_nll"}.get(self.kind, "")

    def to_dict(self) -> dict[str, Any]:
        """JSON form ``{"kind": ..., "levels": [...]}``."""
        return {"kind": self.kind, "levels": list(self.levels)}

    @classmethod
    def from_dict(cls, d: OutputHead | Mapping[str, Any] | None) -> OutputHead:
        """Inverse of :meth:`to_dict` (``None`` = a point head)."""
        if d is None or isinstance(d, OutputHead):
            return d or cls()
        if not isinstance(d, Mapping) or set(d) - {"kind", "levels"}:
            raise ValueError(f"head must be a table with kind and levels, got {d!r}")
        return cls(d.get("kind", "point"), tuple(d.get("levels") or ()))


class DistributionalOutput(nn.Module):
    r"""Any model turned into a forecaster of a distribution per target value.

    The wrapped model is built with ``F * K`` output channels, component-major: channels
    ``[0, F)`` are the location :math:`\ell` (a model's persistence adds the last value
    there, see :func:`add_last_value`), the next ``(K - 1) F`` the spread parameters
    :math:`s_j`. They become, with :math:`\sigma_+ = \mathrm{softplus}`:

    - Gaussian (``K = 2``): mean :math:`\mu = \ell` and standard deviation
      :math:`\sigma = \sigma_+(s_1) + 10^{-3}` (positive);
    - quantiles (``K`` levels :math:`\tau_1 < \dots < \tau_K`, centre :math:`c` the level
      closest to 0.5): :math:`q_c = \ell`, :math:`q_{c \mp j} = \ell \mp \sum_{i \le j}
      \sigma_+(s_i)`. The quantiles never cross *by construction* (positive gaps), in
      training as in prediction, which rearrangement by sorting (Chernozhukov et al.,
      Econometrica 2010) only guarantees after the fact; and the location stays the
      central quantile, so persistence moves all quantiles together.

    Args:
        model: a model built with ``out_channels = F * head.width``.
        out_channels: ``F`` (values per target).
        head: the distribution.

    Shapes:
        forward: the model's inputs -> [B, H, N, F, K] (sorted quantiles, or mean and std)
    """

    def __init__(self, model: nn.Module, out_channels: int, head: OutputHead) -> None:
        super().__init__()
        if not head.probabilistic:
            raise ValueError("DistributionalOutput needs a quantile or gaussian head")
        self.model, self.out_channels, self.head = model, out_channels, head
        levels = head.levels
        self.center = min(range(len(levels)), key=lambda i: abs(levels[i] - 0.5)) if levels else 0

    @property
    def receptive_field(self) -> Any:
        """The wrapped model's ``receptive_field`` (``None`` when it states none)."""
        return getattr(self.model, "receptive_field", None)

    def forward(self, *args: Any, **kwargs: Any) -> Tensor:
        raw: Tensor = self.model(*args, **kwargs)
        k, f = self.head.width, self.out_channels
        z = raw.reshape(*raw.shape[:-1], k, f).movedim(-2, -1)  # [B, H, N, F, K]
        loc = z[..., :1]
        if self.head.kind == "gaussian":
            return torch.cat([loc, nnf.softplus(z[..., 1:]) + MIN_SCALE], -1)
        gaps = nnf.softplus(z[..., 1:])
        below = (loc - gaps[..., : self.center].cumsum(-1)).flip(-1)
        above = loc + gaps[..., self.center :].cumsum(-1)
        return torch.cat([below, loc, above], -1)

    def extra_repr(self) -> str:
        return f"kind={self.head.kind!r}, levels={self.head.levels}"
