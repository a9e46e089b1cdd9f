"""The :class:`Forecaster`: one object that owns a model, its fitted protocol (scaler), its
graph source and its device, and is the only way the engine calls a model."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import platform
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from stgraph._atomic import atomic_path, atomic_write_text
from stgraph._version import __version__
from stgraph.data.protocol import Protocol
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.data.windows import Batch
from stgraph.engine.config import ConfigError, RunConfig, TrainConfig
from stgraph.engine.evaluation import evaluate_methods
from stgraph.engine.inputs import (
    data_signature,
    describe_mismatch,
    from_file,
    is_lattice,
    model_inputs,
    model_spec,
)
from stgraph.engine.nodebatch import NodeBatcher, check_node_batching, core_only, slice_nodes
from stgraph.engine.probconfig import head_loss
from stgraph.engine.probforecast import (
    DistributionalForecasts,
    forecast_frame,
    next_window,
    point_forecast,
    quantile_columns,
)
from stgraph.engine.probmetrics import head_score
from stgraph.engine.rundir import load_checkpoint, read_json
from stgraph.engine.seed import seed_everything
from stgraph.graph import SensorGraph
from stgraph.graph.partition import Halo
from stgraph.models import ModelSpec, build_model, check_pairing, get_model

FORMAT = 1


class Forecaster(DistributionalForecasts):
    """A model ready to forecast: weights, fitted protocol, graph and device in one place.

    The forecaster decides which graph the model sees (each window's own edges when the data
    has time-varying edges, else its static graph), keeps the model in eval mode for
    prediction, and converts between original and scaled units.

    Args:
        model: a registered model.
        protocol: the fitted protocol (split bounds and scaler).
        graph: the static sensor graph (node order = model node order).
        config: the run's configuration (model name, hyper-parameters).
        signature: :func:`data_signature` of the training series.
        spec: the model's structural inputs (:func:`model_spec` of the training series).
        device: where the model runs (``"cpu"``, ``"cuda"``, ...).

    With a distributional head (:class:`~stgraph.engine.probforecast.DistributionalForecasts`)
    it also forecasts quantiles and scores them.

    Shapes:
        predict: batch (x [B, L, N, F]) -> [B, H, N, F] in original units
        predict_quantiles: batch -> [B, H, N, F, Q] (a distributional head only)
    """

    def __init__(
        self,
        model: nn.Module,
        protocol: Protocol,
        graph: SensorGraph,
        config: RunConfig,
        signature: dict[str, Any],
        spec: ModelSpec,
        device: str | torch.device = "cpu",
    ) -> None:
        if not protocol.is_fitted:
            raise ValueError("Forecaster needs a fitted protocol (protocol.fit(data))")
        self.model, self.protocol, self.graph, self.config = model, protocol, graph, config
        self.signature, self.spec = signature, spec
        self.scaler = protocol.get_scaler()
        self.node_batcher = NodeBatcher.for_config(graph, config.train, model)
        self.device = torch.device("cpu")
        self.to(device)

    # ------------------------------------------------------------------ building
    @classmethod
    def build(
        cls, config: RunConfig, data: SpatioTemporalData, device: str | torch.device = "cpu"
    ) -> Forecaster:
        """Fit ``config``'s protocol on ``data`` (training split only), check that every split
        has windows, and build the model with freshly seeded weights.

        Raises:
            ConfigError: a protocol setting or hyper-parameter does not work for ``data``.
        """
        try:
            protocol = config.proto.fit(data)
            for split in ("train", "val", "test"):
                n = len(protocol.windows(data, split))
                if n == 0:
                    lo, hi = protocol.bounds.target_range(split)  # type: ignore[union-attr]
                    raise ConfigError(
                        f"{data.name}: the {split} split has no window: its {hi - lo} steps "
                        f"[{lo}, {hi}) are fewer than horizon {protocol.horizon} (split "
                        f"{protocol.split}, T={data.num_steps}); change the split or horizon"
                    )
        except ConfigError:
            raise
        except (ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"protocol: {e.args[0] if e.args else e}") from None
        try:
            check_pairing(
                config.model,
                temporal_edges=data.temporal_edges is not None,
                lattice=is_lattice(data.graph),
            )
            if config.train.node_batch is not None:
                edges = data.temporal_edges is not None
                check_node_batching(config.model, get_model(config.model).cls, edges)
        except ValueError as e:
            raise ConfigError(f"{data.name}: {e}") from None
        seed_everything(config.seed)
        spec = dataclasses.replace(model_spec(data, protocol), head=config.head)
        try:
            model = build_model(config.model, spec, **config.hparams)
        except (TypeError, ValueError, RuntimeError) as e:
            raise ConfigError(f"model {config.model!r} cannot be built: {e}") from None
        return cls(model, protocol, data.graph, config, data_signature(data), spec, device)

    def to(self, device: str | torch.device) -> Forecaster:
        """Move the model (and its static graph) to ``device``."""
        try:
            self.device = torch.device(device)
            self.model.to(self.device)
        except (RuntimeError, AssertionError) as e:
            raise ConfigError(f"device {device!r} is not available here ({e})") from None
        self._ei = self.graph.edge_index.to(self.device)
        self._ew = self.graph.edge_weight.to(self.device)
        if self.node_batcher is not None:
            self.node_batcher.to(self.device)
        return self

    def fit(
        self,
        data: SpatioTemporalData,
        train: TrainConfig | None = None,
        run_dir: str | Path | None = None,
        resume: bool = False,
    ) -> dict[str, Any]:
        """Train the model on ``data``'s training windows with early stopping on its
        validation windows, then keep the best epoch's weights.

        Args:
            data: the series the protocol was fitted on.
            train: training settings (default: the config's).
            run_dir: where checkpoints and ``train.log`` go (default: a temporary folder,
                removed afterwards).
            resume: continue from ``run_dir/last.pt``.

        Returns:
            The trainer's summary (best validation MAE, epochs, seconds).
        """
        from stgraph.engine.trainer import Trainer

        self.check_data(data)
        train = train or self.config.train
        try:  # the loss follows the head (a default "mae" becomes the head's loss)
            train = dataclasses.replace(train, loss=head_loss(self.head, train))
        except ValueError as e:
            raise ConfigError(str(e)) from None
        with contextlib.ExitStack() as stack:
            folder = run_dir or stack.enter_context(tempfile.TemporaryDirectory())
            trainer = Trainer(self, data, train, folder)
            if resume:
                trainer.resume()
            summary = trainer.fit()
            trainer.load_best()
        self.model.eval()
        return summary

    # ------------------------------------------------------------------ calling the model
    def forward(
        self,
        batch: Batch,
        targets: Tensor | None = None,
        teacher_forcing: float = 0.0,
        graph: Halo | None = None,
    ) -> Tensor:
        """Model output in scaled units, in the model's current mode (train or eval).

        With time-varying edges every window is run on its own graph (window ``b`` sees the
        edges of its last input step).

        Args:
            batch: the windows.
            targets: scaled targets with ``NaN`` where missing, for scheduled sampling
                (passed only to models whose ``forward`` takes ``targets``).
            teacher_forcing: probability of feeding a decoder the true previous target.
            graph: a node batch's halo: the model runs on its ``M`` nodes and edges only.

        Shapes:
            targets: [B, H, N, F]
            output: [B, H, N, F_out] (or [B, H, M, F_out]) on the forecaster's device
        """
        batch = batch.to(self.device)
        x = model_inputs(batch, self.scaler)
        cov, ei = batch.covariates, self._ei
        ew: Tensor | None = self._ew
        if graph is not None:
            graph = graph.to(self.device)
            x, cov = (slice_nodes(t, graph.nodes) for t in (x, cov))
            targets = None if targets is None else slice_nodes(targets, graph.nodes)
            ei, ew = graph.edge_index, graph.edge_weight
        extra: dict[str, Any] = {}
        if targets is not None and teacher_forcing > 0:
            extra = {"targets": targets, "teacher_forcing": teacher_forcing}
        if batch.edge_index is None or graph is not None:
            return self.model(x, ei, ew, cov, **extra)
        outs = []
        for b in range(len(batch)):
            ei, ew = batch.window_edges(b)
            one = {k: v[b : b + 1] if k == "targets" else v for k, v in extra.items()}
            outs.append(self.model(x[b : b + 1], ei, ew, batch.covariates[b : b + 1], **one))
        return torch.cat(outs, 0)

    def loss(
        self, batch: Batch, loss_fn: Any, teacher_forcing: float = 0.0, graph: Halo | None = None
    ) -> Tensor:
        """Training loss of one batch: ``loss_fn(output, scaled target, mask)``; with
        ``teacher_forcing > 0`` the model's decoder is fed the true previous target with that
        probability (scheduled sampling). With a node batch's ``graph`` the model runs on its
        halo and the loss covers the batch's own (core) nodes only. A distributional head's
        output is scored first (:func:`~stgraph.engine.probmetrics.head_score`) and
        ``loss_fn`` averages that score over the observed entries."""
        y = self.scaler.transform(batch.y.to(self.device))
        mask = batch.y_mask.to(self.device)
        targets = torch.where(mask, y, torch.full((), float("nan"))) if teacher_forcing else None
        out = self.forward(batch, targets, teacher_forcing, graph)
        if graph is not None:
            out, y, mask = core_only(graph, out, y, mask)
        if self.head.probabilistic:
            out = torch.where(mask, head_score(self.head, out, y), torch.zeros((), device=y.device))
        return loss_fn(out, y, mask)

    @torch.no_grad()
    def predict(self, batch: Batch) -> Tensor:
        """Point forecast in original units (a distributional head's median or mean), in
        eval mode (the previous mode is restored); a node-batched run predicts part by part
        (see :mod:`stgraph.engine.nodebatch`).

        Shapes:
            output: [B, H, N, F_out] on the CPU
        """
        if self.head.probabilistic:
            return point_forecast(self.head, self.predict_distribution(batch))
        return self.scaler.inverse_transform(self._predict_scaled(batch))

    def _predict_scaled(self, batch: Batch) -> Tensor:
        was_training = self.model.training
        self.model.eval()
        nb = None if self.config.train.eval_full_graph else self.node_batcher
        try:
            part = lambda halo: self.forward(batch, graph=halo)  # noqa: E731
            out = self.forward(batch) if nb is None else nb.assemble(part, batch.x)
            return out.cpu()
        finally:
            self.model.train(was_training)

    def evaluate(
        self, data: SpatioTemporalData, split: str = "test", batch_size: int = 64
    ) -> dict[str, dict[str, Any]]:
        """Masked metrics of the model and every baseline on ``split`` of ``data``."""
        self.check_data(data)
        return evaluate_methods(self.predict, data, self.protocol, split, batch_size)

    # ------------------------------------------------------------------ forecasting
    def check_data(self, data: SpatioTemporalData) -> None:
        """Refuse a series whose nodes, features, covariates or step differ from the
        training series'.

        Raises:
            ValueError: naming each mismatch.
        """
        got = data_signature(data)
        diff = [
            describe_mismatch(k, got[k], v) for k, v in self.signature.items() if got.get(k) != v
        ]
        if diff:
            raise ValueError(f"data {data.name!r} does not fit this model: {'; '.join(diff)}")

    def forecast(
        self, data: SpatioTemporalData, future_covariates: Tensor | np.ndarray | None = None
    ) -> pd.DataFrame:
        """Forecast the ``H`` steps after the last observation of ``data``.

        Args:
            data: a series with the training series' nodes, features and step, holding at
                least the lookback ``L`` most recent steps (missing values allowed).
            future_covariates: the ``H`` future values of user covariates beyond the calendar
                ones, when the model was trained with any.

        Returns:
            A tidy frame with columns ``time, node, feature, value`` (``H * N * F`` rows,
            real timestamps and node ids; ``value`` is the point forecast), then for a
            distributional head ``q<level>`` per level of :attr:`quantile_levels` (e.g.
            ``q0.1``) and, for a Gaussian, ``std``.

        Shapes:
            future_covariates: [H, 1 or N, C - 2]
        """
        self.check_data(data)
        times, batch = next_window(data, self.protocol, future_covariates)
        if not self.head.probabilistic:
            return forecast_frame(data, times, self.predict(batch)[0])
        dist = self.predict_distribution(batch)[0]  # [H, N, F, K]
        extra = quantile_columns(self.head, dist)
        return forecast_frame(data, times, point_forecast(self.head, dist), extra)

    # ------------------------------------------------------------------ files
    def save(self, run_dir: str | Path) -> None:
        """Write ``forecaster.json``, ``protocol.json``, ``graph.json`` and ``model.pt``
        (each atomically)."""
        d = Path(run_dir)
        meta = {
            "format": FORMAT,
            "config": self.config.to_dict(),
            "spec": dataclasses.asdict(self.spec),
            "signature": self.signature,
            "params": sum(p.numel() for p in self.model.parameters()),
            "versions": {
                "stgraph": __version__,
                "torch": torch.__version__,
                "python": platform.python_version(),
            },
        }
        atomic_write_text(d / "forecaster.json", json.dumps(meta, indent=2) + "\n")
        self.protocol.save(d / "protocol.json")
        atomic_write_text(d / "graph.json", json.dumps(self.graph.to_dict()) + "\n")
        state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        with atomic_path(d / "model.pt") as tmp:
            torch.save(state, tmp)

    @classmethod
    def load(cls, run_dir: str | Path, device: str | torch.device = "cpu") -> Forecaster:
        """Rebuild a saved forecaster (weights read with ``weights_only=True``), in eval mode.

        Raises:
            FileNotFoundError / ValueError: a missing or damaged file, named.
        """
        d = Path(run_dir)
        meta = read_json(d / "forecaster.json")
        if meta.get("format") != FORMAT:
            raise ValueError(f"{d / 'forecaster.json'}: unknown format {meta.get('format')!r}")
        config = RunConfig.from_dict(meta["config"], source=str(d / "forecaster.json"))
        protocol = from_file(d / "protocol.json", Protocol.from_dict)
        graph = from_file(d / "graph.json", SensorGraph.from_dict)
        try:
            spec = ModelSpec(**meta["spec"])
        except (KeyError, TypeError) as e:
            raise ValueError(f"{d / 'forecaster.json'}: damaged ({e})") from None
        model = build_model(config.model, spec, **config.hparams)
        try:
            model.load_state_dict(load_checkpoint(d / "model.pt"))
        except RuntimeError as e:
            raise ValueError(
                f"{d / 'model.pt'}: does not fit model {config.model!r} ({e})"
            ) from None
        model.eval()
        return cls(model, protocol, graph, config, meta["signature"], spec, device)
