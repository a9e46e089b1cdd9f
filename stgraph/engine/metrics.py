r"""Masked error metrics: per-batch losses and exact whole-split accumulation.

For predictions :math:`\hat y`, targets :math:`y` and the observation mask :math:`m`:

.. math::
    \mathrm{MAE} = \frac{\sum m |\hat y - y|}{\sum m}, \quad
    \mathrm{RMSE} = \sqrt{\frac{\sum m (\hat y - y)^2}{\sum m}}, \quad
    \mathrm{MAPE} = 100 \cdot \frac{\sum m' |\hat y - y| / |y|}{\sum m'}

with :math:`m' = m \wedge (|y| \ge 10^{-6})` (MAPE skips zero targets). The accumulator keeps
sums and counts per horizon step over the whole split, so the result is the exact masked
mean over all windows, not a mean of batch means.

All-missing convention: a per-batch metric with no observed entry returns ``0`` (finite, and
its gradient is zero, so an all-missing batch does not move the model); the accumulator
reports ``None`` (JSON ``null``) for a step or split with count 0, and the count itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

MAPE_EPS = 1e-6


def _masked_mean(err: Tensor, mask: Tensor) -> Tensor:
    m = mask.to(err.dtype)
    return (err * m).sum() / m.sum().clamp_min(1.0)


def masked_mae(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Masked mean absolute error (0 when nothing is observed).

    Shapes:
        pred, target, mask: any equal shape -> scalar
    """
    return _masked_mean((pred - target).abs(), mask)


def masked_mse(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Masked mean squared error (0 when nothing is observed)."""
    return _masked_mean((pred - target) ** 2, mask)


def masked_rmse(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Square root of :func:`masked_mse`; 0 with a zero gradient when the error is 0 (e.g. a
    batch with nothing observed), where a plain ``sqrt`` would give a NaN gradient."""
    mse = masked_mse(pred, target, mask)
    return torch.where(mse > 0, mse.clamp_min(1e-30).sqrt(), mse.new_zeros(()))


def masked_mape(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Masked mean absolute percentage error in percent; zero targets are skipped."""
    m = mask & (target.abs() >= MAPE_EPS)
    return 100.0 * _masked_mean((pred - target).abs() / target.abs().clamp_min(MAPE_EPS), m)


def masked_score(score: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Masked mean of a per-entry score already evaluated against the target (a
    distributional head's pinball loss or NLL, see :func:`stgraph.engine.probmetrics.head_score`);
    ``target`` is not used (0 when nothing is observed).

    Shapes:
        score, mask: [B, H, N, F] -> scalar
    """
    return _masked_mean(score, mask)


LOSSES = {
    "mae": masked_mae,
    "mse": masked_mse,
    "rmse": masked_rmse,
    "pinball": masked_score,
    "gaussian_nll": masked_score,
}


class MetricAccumulator:
    """Exact masked MAE / RMSE / MAPE per horizon step and overall over many batches.

    Args:
        horizon: number of forecast steps ``H``.

    Shapes:
        update: pred, target, mask [B, H, N, F]
    """

    def __init__(self, horizon: int) -> None:
        self.horizon = horizon
        z = torch.zeros(horizon, dtype=torch.float64)
        self.abs, self.sq, self.ape = z.clone(), z.clone(), z.clone()
        self.n, self.n_ape = z.clone(), z.clone()

    def update(self, pred: Tensor, target: Tensor, mask: Tensor) -> None:
        """Add one batch (no gradient is kept)."""
        if pred.shape != target.shape or mask.shape != target.shape or pred.dim() != 4:
            raise ValueError(
                f"pred/target/mask must be equal [B, H, N, F] shapes, got {tuple(pred.shape)}, "
                f"{tuple(target.shape)}, {tuple(mask.shape)}"
            )
        if pred.shape[1] != self.horizon:
            raise ValueError(f"expected horizon {self.horizon}, got {pred.shape[1]}")
        with torch.no_grad():
            p, y = pred.detach().double(), target.detach().double()
            m = mask.bool()
            err = torch.where(m, (p - y).abs(), torch.zeros((), dtype=p.dtype))
            dims = (0, 2, 3)
            self.abs += err.sum(dims)
            self.sq += (err**2).sum(dims)
            self.n += m.sum(dims).double()
            ma = m & (y.abs() >= MAPE_EPS)
            ape = torch.where(ma, err / y.abs().clamp_min(MAPE_EPS), torch.zeros((), dtype=p.dtype))
            self.ape += ape.sum(dims)
            self.n_ape += ma.sum(dims).double()

    def reduce(self, fn: Callable[[Tensor], Tensor]) -> None:
        """Replace the sums and counts by ``fn`` of them stacked, e.g. their sum over the
        processes of a distributed run (see :func:`stgraph.engine.distributed.reduce_metrics`).

        Shapes:
            fn: [5, H] float64 -> [5, H]
        """
        stacked = torch.stack([self.abs, self.sq, self.ape, self.n, self.n_ape])
        self.abs, self.sq, self.ape, self.n, self.n_ape = fn(stacked).clone().unbind(0)

    @staticmethod
    def _finish(a: Tensor, s: Tensor, ap: Tensor, n: Tensor, na: Tensor) -> dict[str, Any]:
        cnt, cnt_ape = float(n), float(na)
        return {
            "mae": float(a / n) if cnt else None,
            "rmse": float((s / n).sqrt()) if cnt else None,
            "mape": float(100.0 * ap / na) if cnt_ape else None,
            "count": int(cnt),
        }

    def compute(self) -> dict[str, Any]:
        """``{"overall": {...}, "horizons": {"1": {...}, ...}}`` with 1-based step keys."""
        sums = (self.abs, self.sq, self.ape, self.n, self.n_ape)
        return {
            "overall": self._finish(*(t.sum() for t in sums)),
            "horizons": {
                str(h + 1): self._finish(*(t[h] for t in sums)) for h in range(self.horizon)
            },
        }
