"""Which training settings fit a run's output distribution (its
:class:`~stgraph.models.common.OutputHead`): the loss follows the head."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stgraph.models.common import OutputHead

if TYPE_CHECKING:
    from stgraph.engine.config import TrainConfig

POINT_LOSSES = ("mae", "mse", "rmse")


def head_loss(head: OutputHead, train: TrainConfig) -> str:
    """The training loss of a run with ``head``: ``train.loss`` when it scores the head (a
    point loss for a point head, ``"pinball"`` / ``"gaussian_nll"`` for a quantile /
    Gaussian head); the default ``"mae"`` of a distributional head becomes its loss (the
    pinball loss generalises the MAE: at level 0.5 it is half the absolute error).

    Raises:
        ValueError: a loss or training setting that does not fit the head, named.
    """
    if not head.probabilistic:
        if train.loss not in POINT_LOSSES:
            raise ValueError(
                f"train.loss {train.loss!r} scores a distribution; set head kind "
                f"{'quantile' if train.loss == 'pinball' else 'gaussian'} or use {POINT_LOSSES}"
            )
        return train.loss
    for name in ("teacher_forcing_decay", "node_batch"):
        if getattr(train, name):
            raise ValueError(f"train.{name} is not available with a {head.kind} head; unset it")
    if train.loss in ("mae", head.loss):
        return head.loss
    raise ValueError(
        f"train.loss {train.loss!r} does not score a {head.kind} head; use {head.loss!r}"
    )
