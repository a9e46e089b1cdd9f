"""Time encodings: sinusoidal positions and calendar (time-of-day / day-of-week) features."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sinusoidal_positions(length: int, dim: int, device: torch.device | None = None) -> Tensor:
    r"""Sinusoidal position encoding (Vaswani et al., NeurIPS 2017, sec. 3.5).

    .. math::
        PE_{(p, 2i)} = \sin(p / 10000^{2i/d}), \quad PE_{(p, 2i+1)} = \cos(p / 10000^{2i/d})

    Shapes:
        output: [length, dim]
    """
    pos = torch.arange(length, dtype=torch.float32, device=device)[:, None]
    i = torch.arange(0, dim, 2, dtype=torch.float32, device=device)
    angle = pos / torch.pow(10000.0, i / dim)
    pe = torch.zeros(length, dim, device=device)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : dim // 2])
    return pe


def calendar_fourier(covariates: Tensor) -> Tensor:
    """Periodic features of the calendar channels: ``sin/cos`` of time of day and of day of week.

    Args:
        covariates: stgraph covariates whose channel 0 is the time-of-day fraction and channel
            1 the day of week (0-6).

    Shapes:
        covariates: [..., C >= 2] -> output [..., 4]
    """
    tod = 2 * math.pi * covariates[..., 0]
    dow = 2 * math.pi * covariates[..., 1] / 7.0
    return torch.stack([tod.sin(), tod.cos(), dow.sin(), dow.cos()], dim=-1)


class CalendarEmbedding(nn.Module):
    """Learned time-of-day and day-of-week embeddings, summed (as in STID / GMAN's STE).

    The time-of-day slot is ``floor(fraction * steps_per_day + 0.01) mod steps_per_day``: the
    step of the day holding the stamp despite float32 fractions (exact for every stamp
    except those in the last 1% of their step, for steps of one second or more).

    Args:
        steps_per_day: number of time-of-day slots.
        dim: embedding size.

    Shapes:
        covariates: [..., C >= 2] (channel 0 time-of-day fraction, channel 1 day of week)
        output: [..., dim]
    """

    def __init__(self, steps_per_day: int, dim: int) -> None:
        super().__init__()
        self.steps_per_day, self.dim = steps_per_day, dim
        self.tod = nn.Embedding(steps_per_day, dim)
        self.dow = nn.Embedding(7, dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Normal(0, 0.02) initialisation."""
        nn.init.normal_(self.tod.weight, std=0.02)
        nn.init.normal_(self.dow.weight, std=0.02)

    def slots(self, covariates: Tensor) -> tuple[Tensor, Tensor]:
        """Time-of-day slot (0 .. steps_per_day - 1) and day of week (0 .. 6) of each stamp.

        Shapes:
            covariates: [..., C >= 2] -> two tensors [...] (int64)
        """
        # The fraction is float32 (off by up to 6e-8 * steps_per_day slots, 5e-3 at 1-second
        # steps): a stamp at the start of slot k can read as k - 1e-4, which floor() would
        # drop into slot k - 1. A 1/100-slot tolerance keeps every stamp in its own slot.
        scaled = covariates[..., 0].double() * self.steps_per_day
        slot = (scaled + 0.01).floor().long().remainder(self.steps_per_day)
        day = covariates[..., 1].round().long().clamp(0, 6)
        return slot, day

    def forward(self, covariates: Tensor) -> Tensor:
        slot, day = self.slots(covariates)
        return self.tod(slot) + self.dow(day)

    def extra_repr(self) -> str:
        return f"steps_per_day={self.steps_per_day}, dim={self.dim}"
