"""Exponential moving average of a model's weights (Polyak averaging), for evaluation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["WeightAverage"]


class WeightAverage:
    r"""Exponential moving average of every floating-point parameter and buffer of a model.

    After each optimiser step :math:`t` the average moves towards the live weights,

    .. math::
        \bar\theta_t = d_t\,\bar\theta_{t-1} + (1 - d_t)\,\theta_t,
        \qquad d_t = \min\!\left(d, \frac{1 + t}{10 + t}\right),

    the averaged iterate of Polyak & Juditsky (SIAM J. Control Optim. 1992) in the exponential
    form of TensorFlow's ``ExponentialMovingAverage`` (the warm-up :math:`d_t` keeps the first
    steps from being dominated by the initial weights). Evaluating with :math:`\bar\theta`
    smooths the noise of the last steps, which helps most with a noisy loss such as the MSE on
    data with outliers.

    The trainer validates (and keeps the best epoch) with the averaged weights, so ``best.pt``
    holds them; training itself always updates the live weights.

    Args:
        model: the model whose weights are averaged (its state tensors are tracked in place:
            ``load_state_dict`` on the model keeps them valid).
        decay: :math:`d` in ``(0, 1)``; ``0.999`` averages over roughly the last 1,000 steps.

    Shapes:
        every averaged tensor has the shape of the model tensor it follows.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay!r}")
        self.decay = decay
        state = model.state_dict()
        self.names = [k for k, v in state.items() if v.is_floating_point()]
        self._live = [state[k] for k in self.names]  # share storage with the model
        self.average = [v.detach().clone() for v in self._live]
        self.steps = 0

    @torch.no_grad()
    def update(self) -> None:
        """Move the average one step towards the live weights (call after ``optimizer.step``)."""
        self.steps += 1
        d = min(self.decay, (1 + self.steps) / (10 + self.steps))
        torch._foreach_lerp_(self.average, self._live, 1.0 - d)

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Inside the block the model holds the averaged weights; the live ones come back
        afterwards (also on an exception)."""
        backup = [v.detach().clone() for v in self._live]
        with torch.no_grad():
            torch._foreach_copy_(self._live, self.average)
        try:
            yield
        finally:
            with torch.no_grad():
                torch._foreach_copy_(self._live, backup)

    def state_dict(self) -> dict[str, Any]:
        """The averages and the step count (tensors and numbers: loads with
        ``weights_only=True``)."""
        return {"steps": self.steps, "average": dict(zip(self.names, self.average, strict=True))}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` of the same model."""
        average: dict[str, Tensor] = state["average"]
        if sorted(average) != sorted(self.names):
            raise KeyError("the averaged weights do not match this model's tensors")
        self.steps = int(state["steps"])
        with torch.no_grad():
            for mine, name in zip(self.average, self.names, strict=True):
                mine.copy_(average[name])
