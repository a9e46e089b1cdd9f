r"""Scores of probabilistic forecasts: pinball and Gaussian NLL losses, CRPS, and the coverage
and width of central prediction intervals, with exact whole-split accumulation.

For a target :math:`y`, quantile forecasts :math:`q_\tau` at levels :math:`\tau_1 < \dots
< \tau_K` and a Gaussian :math:`\mathcal N(\mu, \sigma^2)`:

.. math::
    \rho_\tau(u) = \max(\tau u, (\tau - 1) u), \qquad
    \mathrm{pinball} = \frac{1}{K} \sum_k \rho_{\tau_k}(y - q_{\tau_k})

    \mathrm{NLL} = \tfrac12 \log(2\pi) + \log\sigma + \frac{(y - \mu)^2}{2\sigma^2}

    \mathrm{CRPS}(F, y) = 2 \int_0^1 \rho_\tau(y - F^{-1}(\tau))\, d\tau
    \approx \frac{2}{K} \sum_k \rho_{\tau_k}(y - q_{\tau_k})

The quantile form of the CRPS (Gneiting & Raftery, JASA 2007, eq. 21; Laio & Tamea, HESS
2007) is approximated on the predicted levels only (equal weights: the midpoint rule for
equally spaced levels such as the deciles), so it omits the tails beyond the outer levels and
is comparable only between forecasts scored at the same levels. The Gaussian CRPS is the
closed form of Gneiting & Raftery (2007, eq. 5),
:math:`\sigma\,[z(2\Phi(z) - 1) + 2\varphi(z) - 1/\sqrt\pi]` with :math:`z = (y - \mu)/\sigma`.

A central interval pairs levels :math:`\tau < 0.5` and :math:`1 - \tau`; its nominal
coverage is :math:`1 - 2\tau`, its coverage the fraction of observed targets inside
:math:`[q_\tau, q_{1-\tau}]` and its width the mean :math:`q_{1-\tau} - q_\tau`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from stgraph.models.common import DEFAULT_LEVELS, OutputHead

_LOG_2PI = math.log(2 * math.pi)


def pinball(quantiles: Tensor, target: Tensor, levels: Sequence[float]) -> Tensor:
    r"""Pinball (quantile) loss averaged over the levels, per target entry.

    Shapes:
        quantiles: [..., K]; target: [...] -> [...]
    """
    tau = torch.as_tensor(levels, dtype=quantiles.dtype, device=quantiles.device)
    u = target.unsqueeze(-1) - quantiles
    return torch.maximum(tau * u, (tau - 1) * u).mean(-1)


def gaussian_nll(params: Tensor, target: Tensor) -> Tensor:
    """Negative log-likelihood of ``target`` under :math:`\\mathcal N(\\mu, \\sigma^2)`, per
    entry, with ``params[..., 0]`` the mean and ``params[..., 1] > 0`` the std.

    Shapes:
        params: [..., 2]; target: [...] -> [...]
    """
    mu, sigma = params[..., 0], params[..., 1]
    return 0.5 * _LOG_2PI + sigma.log() + 0.5 * ((target - mu) / sigma) ** 2


def gaussian_crps(params: Tensor, target: Tensor) -> Tensor:
    """Closed-form CRPS of a Gaussian (Gneiting & Raftery 2007, eq. 5), per entry.

    Shapes:
        params: [..., 2] (mean, std); target: [...] -> [...]
    """
    mu, sigma = params[..., 0], params[..., 1]
    z = (target - mu) / sigma
    normal = torch.distributions.Normal(torch.zeros_like(z), torch.ones_like(z))
    pdf, cdf = normal.log_prob(z).exp(), normal.cdf(z)
    return sigma * (z * (2 * cdf - 1) + 2 * pdf - 1 / math.sqrt(math.pi))


def quantile_crps(quantiles: Tensor, target: Tensor, levels: Sequence[float]) -> Tensor:
    """CRPS approximated on the predicted levels: twice the mean pinball loss, per entry.

    Shapes:
        quantiles: [..., K]; target: [...] -> [...]
    """
    return 2 * pinball(quantiles, target, levels)


def normal_quantiles(params: Tensor, levels: Sequence[float]) -> Tensor:
    r"""Quantiles :math:`\mu + \sigma \sqrt2\, \mathrm{erf}^{-1}(2\tau - 1)` of a Gaussian.

    Shapes:
        params: [..., 2] (mean, std) -> [..., K]
    """
    tau = torch.as_tensor(levels, dtype=params.dtype, device=params.device)
    z = math.sqrt(2) * torch.erfinv(2 * tau - 1)
    return params[..., :1] + params[..., 1:2] * z


def median(quantiles: Tensor, levels: Sequence[float]) -> Tensor:
    """The 0.5 quantile, interpolated linearly between the two levels around 0.5 (the
    outermost level when all levels lie on one side).

    Shapes:
        quantiles: [..., K] (sorted) -> [...]
    """
    lv = list(levels)
    hi = next((i for i, t in enumerate(lv) if t >= 0.5), len(lv) - 1)
    lo = max(hi - 1, 0)
    if lv[hi] < 0.5 or hi == lo or lv[hi] == 0.5:
        return quantiles[..., hi]
    w = (0.5 - lv[lo]) / (lv[hi] - lv[lo])
    return quantiles[..., lo] + w * (quantiles[..., hi] - quantiles[..., lo])


def head_score(head: OutputHead, out: Tensor, target: Tensor) -> Tensor:
    """The training score of a distributional head's output, per target entry: the pinball
    loss for quantiles, the Gaussian NLL for a Gaussian head.

    Shapes:
        out: [..., K]; target: [...] -> [...]
    """
    if head.kind == "quantile":
        return pinball(out, target, head.levels)
    if head.kind == "gaussian":
        return gaussian_nll(out, target)
    raise ValueError(f"head {head.kind!r} has no distributional score")


def forecast_levels(head: OutputHead) -> tuple[float, ...]:
    """Levels at which a head's quantiles are reported: its own levels, or
    :data:`~stgraph.models.common.DEFAULT_LEVELS` for a Gaussian; empty for a point head."""
    if head.kind == "gaussian":
        return DEFAULT_LEVELS
    return head.levels


def quantile_forecast(head: OutputHead, out: Tensor) -> Tensor:
    """Quantiles of a distributional output at :func:`forecast_levels` (a Gaussian's via
    the normal inverse CDF).

    Shapes:
        out: [B, H, N, F, K] -> [B, H, N, F, Q]
    """
    if head.kind == "gaussian":
        return normal_quantiles(out, DEFAULT_LEVELS)
    return out


def central_intervals(levels: Sequence[float]) -> list[tuple[float, int, int]]:
    """``(nominal coverage, lower index, upper index)`` of every central interval the levels
    contain (pairs ``tau < 0.5`` and ``1 - tau``), widest first."""
    out = []
    for i, t in enumerate(levels):
        j = next((j for j, u in enumerate(levels) if abs(u - (1 - t)) < 1e-9), None)
        if t < 0.5 and j is not None:
            out.append((round(1 - 2 * t, 9), i, j))
    return out


class ProbAccumulator:
    """Exact masked CRPS, interval coverage and width per horizon step and overall.

    Args:
        horizon: forecast steps ``H``.
        levels: the quantile levels of the forecasts it is given.
        interval: nominal coverage of the reported central interval; the levels' interval
            closest to it is used (``coverage`` and ``width`` are ``None`` when the levels
            hold no central interval).

    Shapes:
        update: quantiles [B, H, N, F, K]; target, mask [B, H, N, F]; crps [B, H, N, F]
    """

    def __init__(self, horizon: int, levels: Sequence[float], interval: float = 0.8) -> None:
        self.horizon, self.levels = horizon, tuple(levels)
        pairs = central_intervals(self.levels)
        self.pair = min(pairs, key=lambda p: abs(p[0] - interval)) if pairs else None
        self.sums = torch.zeros(4, horizon, dtype=torch.float64)  # crps, count, inside, width

    def update(
        self, quantiles: Tensor, target: Tensor, mask: Tensor, crps: Tensor | None = None
    ) -> None:
        """Add one batch; ``crps`` per entry (e.g. the Gaussian closed form) replaces the
        quantile approximation when given."""
        if quantiles.shape[:-1] != target.shape or mask.shape != target.shape:
            raise ValueError(
                f"quantiles [B, H, N, F, K] and target/mask [B, H, N, F] do not match: "
                f"{tuple(quantiles.shape)}, {tuple(target.shape)}, {tuple(mask.shape)}"
            )
        if quantiles.shape[-1] != len(self.levels) or target.shape[1] != self.horizon:
            raise ValueError(
                f"expected {len(self.levels)} levels and horizon {self.horizon}, got "
                f"{quantiles.shape[-1]} and {target.shape[1]}"
            )
        with torch.no_grad():
            q, y, m = quantiles.detach().double(), target.detach().double(), mask.bool()
            score = quantile_crps(q, y, self.levels) if crps is None else crps.double()
            zero = torch.zeros((), dtype=torch.float64)
            dims = (0, 2, 3)
            rows = [torch.where(m, score, zero).sum(dims), m.sum(dims).double()]
            if self.pair is not None:
                lo, hi = q[..., self.pair[1]], q[..., self.pair[2]]
                inside = (y >= lo) & (y <= hi) & m
                rows += [inside.sum(dims).double(), torch.where(m, hi - lo, zero).sum(dims)]
            else:
                rows += [torch.zeros(self.horizon, dtype=torch.float64)] * 2
            self.sums += torch.stack(rows).cpu()

    def _finish(self, s: Tensor) -> dict[str, Any]:
        n = float(s[1])
        has = bool(n) and self.pair is not None
        return {
            "crps": float(s[0] / n) if n else None,
            "coverage": float(s[2] / n) if has else None,
            "width": float(s[3] / n) if has else None,
            "nominal": None if self.pair is None else self.pair[0],
            "count": int(n),
        }

    def compute(self) -> dict[str, Any]:
        """``{"overall": {"crps", "coverage", "width", "nominal", "count"}, "horizons":
        {"1": {...}, ...}}`` (``None`` where nothing is observed)."""
        return {
            "overall": self._finish(self.sums.sum(1)),
            "horizons": {str(h + 1): self._finish(self.sums[:, h]) for h in range(self.horizon)},
        }
