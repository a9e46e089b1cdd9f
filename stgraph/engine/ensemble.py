"""Average of several trained forecasters' point forecasts (a seed ensemble)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from stgraph.data.windows import Batch
from stgraph.engine.forecaster import Forecaster

__all__ = ["MeanEnsemble"]


class MeanEnsemble:
    r"""Equal-weight average of the point forecasts of :math:`K` forecasters,

    .. math::
        \hat y = \frac{1}{K} \sum_{k=1}^{K} \hat y^{(k)},

    typically the same model trained from :math:`K` seeds (a "deep ensemble",
    Lakshminarayanan, Pritzel & Blundell, NeurIPS 2017, used here for its mean only). Averaging
    removes part of the seed-to-seed variance of the forecast, so its squared error is at most
    the members' mean squared error (Jensen), and usually lower than any single member's.

    The members must share the protocol: the same lookback, horizon and windows (they may
    differ in model, seed or hyper-parameters); each predicts in original units through its
    own fitted scaler.

    Args:
        members: trained forecasters (at least one).

    Shapes:
        predict: ``batch.x`` [B, L, N, F] -> [B, H, N, F_out] on the CPU
    """

    def __init__(self, members: Sequence[Forecaster]) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one forecaster")
        first = members[0].protocol
        for i, m in enumerate(members[1:], start=2):
            p = m.protocol
            if (p.lookback, p.horizon, p.bounds) != (first.lookback, first.horizon, first.bounds):
                raise ValueError(
                    f"member {i} forecasts from lookback {p.lookback} / horizon {p.horizon} "
                    f"on other splits than member 1 (lookback {first.lookback}, horizon "
                    f"{first.horizon}); every member must use the same protocol"
                )
        self.members = list(members)

    @torch.no_grad()
    def predict(self, batch: Batch) -> Tensor:
        """The members' mean point forecast of ``batch`` (original units)."""
        return torch.stack([m.predict(batch) for m in self.members]).mean(dim=0)
