r"""A learned imputer: a registered graph model trained self-supervised to reconstruct a
window from its observed entries (mask-and-reconstruct).

Each training window of ``W`` steps has a random share of its observed entries hidden; the
model sees the scaled window and the observation mask as a second channel block; hidden and
missing entries are the inverse-distance-weighted mean of the stations visible at the same
step and feature (:class:`~stgraph.graph.idw.NodeIDW`, when the graph has coordinates), or
0 (the missing-value rule, the mean) with ``input_fill="zero"``. The model outputs all
``W`` steps (a model built with lookback = horizon = ``W``), and the loss is the masked
error on the hidden entries only (the self-supervision of GRIN, Cini et al., ICLR 2022,
and of BRITS-style imputers). It trains through the ordinary
:class:`~stgraph.engine.trainer.Trainer`: :class:`WindowImputer` is a
:class:`~stgraph.engine.trainer.Trainable` whose windows are the ``W`` target steps of
protocol windows with lookback 1 (the one input step is unused).
"""

from __future__ import annotations

import tempfile
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from stgraph.data.protocol import Protocol
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.data.windows import Batch
from stgraph.engine.config import ConfigError, TrainConfig
from stgraph.engine.seed import seed_everything
from stgraph.graph.idw import NodeIDW
from stgraph.models import ModelSpec, build_model, get_model


class WindowImputer:
    """A model that reconstructs ``W``-step windows; trainable by the project's trainer.

    Args:
        model: a registered model built with ``in_channels = 2F`` (values, mask),
            ``out_channels = F`` and lookback = horizon = ``W``.
        protocol: fitted protocol with lookback 1 and horizon ``W`` (its windows' targets
            are the windows to reconstruct; its scaler was fit on the training split).
        edge_index, edge_weight: the static graph.
        hide_rate: share of observed entries hidden per training window.
        idw: fills the entries not visible to the model from the visible ones (``None``:
            they are 0 after scaling).

    Shapes:
        predict: batch (y [B, W, N, F]) -> [B, W, N, F] in original units
        reconstruct: data [T, N, F] -> [T, N, F]
    """

    def __init__(
        self,
        model: nn.Module,
        protocol: Protocol,
        edge_index: Tensor,
        edge_weight: Tensor,
        hide_rate: float = 0.25,
        idw: NodeIDW | None = None,
    ) -> None:
        if not 0 < hide_rate < 1:
            raise ValueError(f"imputer hide_rate must be in (0, 1), got {hide_rate}")
        self.model, self.protocol, self.hide_rate = model, protocol, hide_rate
        self.scaler = protocol.get_scaler()
        self.edge_index, self.edge_weight, self.idw = edge_index, edge_weight, idw
        self.summary: dict[str, Any] = {}

    @property
    def window(self) -> int:
        """``W``, the reconstructed window length."""
        return self.protocol.horizon

    def _run(self, y: Tensor, visible: Tensor, cov: Tensor) -> Tensor:
        """Model output (scaled) from the visible entries of ``y`` (the others IDW-filled
        when ``idw`` is set, else 0).

        Shapes:
            y, visible: [B, W, N, F]; cov: [B, W, 1 or N, C] -> [B, W, N, F]
        """
        known = visible
        if self.idw is not None:
            y, known = self.idw.fill(y, visible, ~visible)
        z = torch.where(known, self.scaler.transform(y), torch.zeros((), dtype=y.dtype))
        x = torch.cat([z, visible.to(z.dtype)], -1)
        return self.model(x, self.edge_index, self.edge_weight, torch.cat([cov, cov], 1))

    def loss(
        self, batch: Batch, loss_fn: Any, teacher_forcing: float = 0.0, graph: Any = None
    ) -> Tensor:
        """Masked loss on the entries hidden at random from the window's observed ones."""
        hide = batch.y_mask & (torch.rand(batch.y.shape) < self.hide_rate)
        out = self._run(batch.y, batch.y_mask & ~hide, batch.covariates[:, 1:])
        return loss_fn(out, self.scaler.transform(batch.y), hide)

    @torch.no_grad()
    def predict(self, batch: Batch) -> Tensor:
        """Validation view: a share of the observed entries hidden (drawn from a generator
        seeded by the window start, so every epoch hides the same entries), reconstructed;
        the other entries are returned as observed, so a masked error over the window is
        the error on the hidden entries scaled by their share."""
        was = self.model.training
        self.model.eval()
        try:
            gen = torch.Generator().manual_seed(int(batch.start[0]))
            hide = batch.y_mask & (torch.rand(batch.y.shape, generator=gen) < self.hide_rate)
            out = self._run(batch.y, batch.y_mask & ~hide, batch.covariates[:, 1:])
            return torch.where(hide, self.scaler.inverse_transform(out), batch.y)
        finally:
            self.model.train(was)

    @torch.no_grad()
    def reconstruct(self, data: SpatioTemporalData, batch_size: int = 64) -> Tensor:
        """Reconstruction of every entry of ``data`` from its observed entries, by
        consecutive ``W``-step windows (the last one aligned with the end of the series).

        Shapes:
            output: [T, N, F] in original units
        """
        w, t = self.window, data.num_steps
        if t < w:
            raise ValueError(f"{data.name}: {t} steps are fewer than the imputer window {w}")
        starts = np.unique(np.append(np.arange(0, t - w + 1, w), t - w))
        self.model.eval()
        out = torch.empty_like(data.values)
        cov = data.covariates
        assert cov is not None
        for i in range(0, len(starts), batch_size):
            idx = torch.as_tensor(starts[i : i + batch_size])[:, None] + torch.arange(w)
            y, m = data.values[idx], data.mask[idx]
            rec = self.scaler.inverse_transform(self._run(y, m, cov[idx]))
            out[idx.reshape(-1)] = rec.reshape(-1, *rec.shape[2:])
        return out


def train_imputer(
    visible: SpatioTemporalData,
    protocol: Protocol,
    model: str = "tgcn",
    hparams: dict[str, Any] | None = None,
    train: TrainConfig | None = None,
    hide_rate: float = 0.25,
    input_fill: str | None = None,
) -> WindowImputer:
    """Build ``model`` for reconstruction and train it on ``visible``'s training windows
    (early stopping on the validation windows), self-supervised as in the module docstring.

    Args:
        visible: the series the imputer may see (evaluation entries already hidden).
        protocol: fitted on ``visible`` with lookback 1 and horizon ``W``.
        model: a registered model that convolves over the given graph.
        hparams: its hyper-parameters.
        train: training settings (``TrainConfig()`` by default).
        hide_rate: share of observed entries hidden per training window.
        input_fill: ``"idw"`` (entries the model does not see are the IDW mean of the
            visible stations at that step), ``"zero"`` (0 after scaling) or ``None``:
            ``"idw"`` when the graph has node coordinates, else ``"zero"``.

    Returns:
        The trained imputer; its ``summary`` is the trainer's (epochs, best epoch, CPU
        seconds).

    Raises:
        ConfigError: the model cannot be built for reconstruction, an unknown
            ``input_fill``, or ``"idw"`` on a graph without coordinates.
    """
    from stgraph.engine.trainer import Trainer

    cfg = train or TrainConfig()
    f, w = visible.num_features, protocol.horizon
    cov = visible.covariates
    assert cov is not None
    spec = ModelSpec(2 * f, f, w, w, visible.num_nodes, int(cov.shape[-1]), visible.steps_per_day)
    get_model(model)
    seed_everything(cfg.seed)
    try:
        net = build_model(model, spec, **(hparams or {}))
    except (TypeError, ValueError, RuntimeError) as e:
        raise ConfigError(f"imputer model {model!r} cannot be built: {e}") from None
    g = visible.graph
    fill = input_fill or ("zero" if g.coords is None else "idw")
    if fill not in ("idw", "zero"):
        raise ConfigError(f"unknown imputer input_fill {input_fill!r}; choose 'idw' or 'zero'")
    if fill == "idw" and g.coords is None:
        raise ConfigError(f"imputer input_fill 'idw': graph {g.name!r} has no node coordinates")
    idw = NodeIDW(g) if fill == "idw" else None
    imputer = WindowImputer(net, protocol, g.edge_index, g.edge_weight, hide_rate, idw)
    with tempfile.TemporaryDirectory() as folder:
        trainer = Trainer(imputer, visible, cfg, folder)
        imputer.summary = trainer.fit()
        trainer.load_best()
    net.eval()
    return imputer
