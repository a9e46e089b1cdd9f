"""Training loop: AdamW, LR schedule, clipping, early stopping, best checkpoint, exact resume."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from stgraph._atomic import atomic_path, atomic_write_text
from stgraph._threads import refresh_threads
from stgraph.data.protocol import Protocol as DataProtocol
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.data.windows import Batch, WindowDataset
from stgraph.engine.config import ConfigError, TrainConfig, config_dict
from stgraph.engine.distributed import (
    backward,
    current,
    from_writer,
    slowest,
    sync_parameters,
    train_batches,
)
from stgraph.engine.ema import WeightAverage
from stgraph.engine.evaluation import evaluate_forecaster
from stgraph.engine.nodebatch import trainer_batcher
from stgraph.engine.rundir import load_checkpoint
from stgraph.engine.seed import seed_everything
from stgraph.graph.partition import Halo


class Trainable(Protocol):
    """What a :class:`Trainer` needs of the object it trains (a
    :class:`~stgraph.engine.forecaster.Forecaster` is one): the model, its fitted protocol, a
    training loss and an eval-mode prediction in original units."""

    model: nn.Module
    protocol: DataProtocol

    def loss(
        self,
        batch: Batch,
        loss_fn: Callable[[Tensor, Tensor, Tensor], Tensor],
        teacher_forcing: float = 0.0,
        graph: Halo | None = None,
    ) -> Tensor:
        """Training loss of one batch (model in train mode); ``teacher_forcing`` is the
        scheduled-sampling probability of this step; with a node batch's ``graph``, the loss
        of its core nodes, the model run on its halo."""
        ...

    def predict(self, batch: Batch) -> Tensor:
        """Forecast ``[B, H, N, F]`` in original units (eval mode)."""
        ...


__all__ = ["Trainable", "Trainer", "TrainingError", "config_dict", "seed_everything"]

log = logging.getLogger("stgraph.train")


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss) or produced nothing to keep (no epoch with a
    finite validation MAE). The message says what happened and what to change."""


class Trainer:
    """Fit a forecaster's model on the train windows with early stopping on a masked
    validation metric (``config.monitor``: MAE or RMSE), optionally evaluated with a moving
    average of the weights (``config.ema``).

    Files in ``run_dir``: ``best.pt`` (weights of the best validation epoch), ``last.pt``
    (everything needed to resume: weights, optimiser, epoch, RNG states, early-stopping state
    and history) and ``train.log`` (one line per finished epoch, rewritten from ``last.pt``
    on resume so a kill between the two writes never duplicates a line).

    With ``config.node_batch`` every step also draws a node batch (see
    :mod:`stgraph.engine.nodebatch`): the model runs on its halo subgraph and the loss
    covers the batch's own nodes.

    In a distributed run (see :mod:`stgraph.engine.distributed`) every rank trains on its
    shard of each global batch of ``config.batch_size`` windows, gradients and metrics are
    reduced exactly, and only rank 0 writes files.

    A non-finite training loss stops the run at once with :class:`TrainingError`; so does a
    run in which no epoch reaches a finite validation MAE (there is no best model to keep).

    With ``config.fit_on == "train+val"`` (a refit) the training windows are those of both
    splits; validation then scores windows it trained on, so it decides nothing: every epoch
    counts as the best (the last one is kept) and early stopping never fires.

    Args:
        forecaster: the model with its fitted protocol, graph and device.
        data: the series (windows are index views into it).
        config: training hyper-parameters.
        run_dir: output folder.
    """

    def __init__(
        self,
        forecaster: Trainable,
        data: SpatioTemporalData,
        config: TrainConfig,
        run_dir: str | Path,
    ) -> None:
        self.forecaster, self.data, self.config = forecaster, data, config
        self.model = forecaster.model
        self.dist = current()
        self.writer = self.dist is None or self.dist.is_writer
        sync_parameters(self.model, self.dist)
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        protocol = forecaster.protocol
        self.refit = config.fit_on == "train+val"
        self.train_windows = protocol.windows(data, "train")
        self.val_windows = protocol.windows(data, "val")
        if self.refit:
            self.train_windows = WindowDataset(
                data,
                np.concatenate([self.train_windows.starts, self.val_windows.starts]),
                protocol.lookback,
                protocol.horizon,
            )
        for split, w in (("training", self.train_windows), ("validation", self.val_windows)):
            if len(w) == 0:
                raise ValueError(
                    f"{data.name}: no {split} windows for L={protocol.lookback}, "
                    f"H={protocol.horizon}"
                )
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        self.generator = torch.Generator().manual_seed(config.seed)
        try:
            self.node_batcher = trainer_batcher(forecaster, data, config)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        self.average = WeightAverage(self.model, config.ema) if config.ema > 0 else None
        self.epoch = 0
        self.best_val = math.inf
        self.best_epoch = -1
        self.bad_epochs = 0
        self.history: list[dict[str, float]] = []
        self.train_seconds = 0.0
        self.cpu_seconds = 0.0

    # ------------------------------------------------------------------ state
    def _state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "epoch": self.epoch,
            "best_val": self.best_val,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "history": self.history,
            "train_seconds": self.train_seconds,
            "cpu_seconds": self.cpu_seconds,
            **({} if self.average is None else {"average": self.average.state_dict()}),
        }

    def _save(self, name: str, obj: Any) -> None:
        if not self.writer:
            return
        with atomic_path(self.run_dir / name) as tmp:
            torch.save(obj, tmp)

    def resume(self, path: str | Path | None = None) -> None:
        """Restore the full training state from ``last.pt`` (loaded with ``weights_only=True``)
        and rewrite ``train.log`` from its history."""
        state = from_writer(
            self.dist, lambda: load_checkpoint(Path(path or self.run_dir / "last.pt"))
        )
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.generator.set_state(state["generator"])
            torch.set_rng_state(state["torch_rng"])
            for key in ("epoch", "best_val", "best_epoch", "bad_epochs", "history"):
                setattr(self, key, state[key])
            self.train_seconds = state["train_seconds"]
            self.cpu_seconds = state.get("cpu_seconds", 0.0)
            if self.average is not None:
                self.average.load_state_dict(state["average"])
        except (KeyError, RuntimeError, TypeError) as e:
            raise ValueError(
                f"{path or self.run_dir / 'last.pt'}: not this run's state ({e})"
            ) from None
        if self.writer:
            lines = "".join(self._line(h) + "\n" for h in self.history)
            atomic_write_text(self.run_dir / "train.log", lines)

    # ------------------------------------------------------------------ loop
    def _train_epoch(self, cpu_start: float) -> tuple[float, bool]:
        """One epoch of training; returns its mean loss and whether the CPU-time budget ran
        out during it (checked after every batch, alike on every rank), which ends the epoch
        there. ``cpu_start`` is the epoch's ``time.process_time()`` at its start."""
        cfg = self.config
        refresh_threads()  # automatic threads follow the machine's load, epoch by epoch
        self.model.train()
        for group in self.optimizer.param_groups:
            group["lr"] = cfg.lr * cfg.lr_factor(self.epoch, self._spent())
        n_batches = self.train_windows.num_batches(cfg.batch_size)
        if cfg.max_batches is not None:
            n_batches = min(n_batches, cfg.max_batches)
        bar = tqdm(
            total=n_batches,
            desc=f"epoch {self.epoch + 1}/{cfg.epochs}",
            disable=None if cfg.progress else True,  # None: no bar when stderr is no terminal
            leave=False,
            dynamic_ncols=True,
        )
        total, seen = 0.0, 0
        batches = train_batches(self.train_windows, cfg.batch_size, self.generator, self.dist)
        nodes = self.node_batcher.stream(self.generator) if self.node_batcher else None
        for i, (batch, size) in enumerate(batches):
            if i >= n_batches:
                break
            step = self.epoch * n_batches + i
            node_batch = {} if nodes is None else {"graph": next(nodes)}  # full-graph: as before
            self.optimizer.zero_grad(set_to_none=True)
            tf = cfg.teacher_forcing(step)
            loss = backward(self.forecaster, batch, cfg.loss, tf, node_batch, self.dist)
            if not torch.isfinite(loss):
                bar.close()
                raise TrainingError(
                    f"training loss is {loss.item()} at epoch {self.epoch + 1}, batch {i + 1}; "
                    f"lower the learning rate (now {cfg.lr:g}) or look for extreme values in "
                    "the data"
                )
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            if self.average is not None:
                self.average.update()
            total += loss.item() * size
            seen += size
            bar.set_postfix(loss=f"{total / seen:.4f}")
            bar.update()
            if cfg.time_budget is not None:
                (cpu,) = slowest(self.dist, time.process_time() - cpu_start)
                if self.cpu_seconds + cpu >= cfg.time_budget:
                    bar.close()
                    return total / max(seen, 1), True
        bar.close()
        return total / max(seen, 1), False

    def validate(self) -> dict[str, Any]:
        """Masked metrics on the validation windows (original units)."""
        return evaluate_forecaster(
            self.forecaster.predict, self.val_windows, self.config.batch_size
        )

    @staticmethod
    def _line(h: dict[str, Any]) -> str:
        star = " *" if h.get("improved") else ""
        rmse = f" val_rmse {h['val_rmse']:.4f}" if "val_rmse" in h else ""
        cut = ", budget spent mid-epoch" if h.get("cut_by_budget") else ""
        return (
            f"epoch {h['epoch']}/{h['epochs']} train_loss {h['train_loss']:.4f} "
            f"val_mae {h['val_mae']:.4f}{rmse}{star} ({h['seconds']:.0f}s{cut})"
        )

    def fit(self, until_epoch: int | None = None) -> dict[str, Any]:
        """Train until ``config.epochs`` (or ``until_epoch``, to stop early and resume later) or
        early stopping. Returns a summary with the best validation MAE and timings.

        Raises:
            TrainingError: a non-finite training loss, or no epoch with a finite
                validation MAE.
        """
        cfg = self.config
        stop = min(cfg.epochs, until_epoch or cfg.epochs)
        if self.epoch == 0:
            seed_everything(cfg.seed)
        while self.epoch < stop and self.bad_epochs < cfg.patience and not self._out_of_time():
            t0, c0 = time.perf_counter(), time.process_time()
            train_loss, cut = self._train_epoch(c0)
            with self._evaluated_weights():
                scores = self.validate()["overall"]
                val_mae, val = _finite(scores["mae"]), _finite(scores[cfg.monitor])
                improved = self.refit or val < self.best_val
                if improved:
                    self.best_val, self.best_epoch, self.bad_epochs = val, self.epoch, 0
                    self._save("best.pt", self.model.state_dict())
                else:
                    self.bad_epochs += 1
            wall, cpu = slowest(self.dist, time.perf_counter() - t0, time.process_time() - c0)
            self.train_seconds += wall
            self.cpu_seconds += cpu
            entry = {
                "epoch": self.epoch + 1,
                "epochs": cfg.epochs,
                "train_loss": train_loss,
                "val_mae": val_mae,
                **({} if cfg.monitor == "mae" else {f"val_{cfg.monitor}": val}),
                "lr": self.optimizer.param_groups[0]["lr"],
                "improved": improved,
                "seconds": self.train_seconds,
                **({"cut_by_budget": True} if cut else {}),
            }
            self.history.append(entry)
            self.epoch += 1
            self._save("last.pt", self._state())
            if self.writer:
                with (self.run_dir / "train.log").open("a") as f:
                    f.write(self._line(entry) + "\n")
                log.info(self._line(entry))
        if self.best_epoch < 0 and self.epoch > 0:
            raise TrainingError(
                f"no epoch reached a finite validation {cfg.monitor.upper()} in {self.epoch} "
                "epoch(s), so there is no model to keep; lower the learning rate or check the data"
            )
        best = self.history[self.best_epoch] if 0 <= self.best_epoch < len(self.history) else {}
        return {
            "best_val_mae": best.get("val_mae", math.inf),
            "monitor": cfg.monitor,
            "best_val": self.best_val,
            "best_epoch": self.best_epoch + 1,
            "epochs": self.epoch,
            "train_seconds": self.train_seconds,
            "cpu_seconds": self.cpu_seconds,
            "early_stopped": self.bad_epochs >= cfg.patience,
            "out_of_time": self._out_of_time(),
        }

    def _spent(self) -> float | None:
        """Fraction of the CPU-time budget used so far (``None`` without a budget)."""
        budget = self.config.time_budget
        return None if budget is None else self.cpu_seconds / budget

    def _out_of_time(self) -> bool:
        spent = self._spent()
        return spent is not None and spent >= 1.0

    def _evaluated_weights(self) -> AbstractContextManager[None]:
        """The weights validation sees: the moving average with ``config.ema``, else the
        live ones."""
        return nullcontext() if self.average is None else self.average.applied()

    def load_best(self) -> None:
        """Load ``best.pt`` into the model."""
        best = from_writer(self.dist, lambda: load_checkpoint(self.run_dir / "best.pt"))
        self.model.load_state_dict(best)


def _finite(value: float | None) -> float:
    """A validation score, ``inf`` when missing or not finite (never "improves")."""
    return math.inf if value is None or not math.isfinite(value) else float(value)
