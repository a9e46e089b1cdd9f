"""Training loop: AdamW, LR schedule, clipping, early stopping, best checkpoint, exact resume."""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from stgraph._atomic import atomic_path
from stgraph.data.protocol import Protocol
from stgraph.data.scalers import Scaler
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.data.windows import Batch, WindowDataset
from stgraph.engine.metrics import LOSSES, MetricAccumulator

log = logging.getLogger("stgraph.train")


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters (the model never sees these).

    Args:
        epochs: maximum number of epochs.
        batch_size: windows per step.
        lr: peak AdamW learning rate.
        weight_decay: AdamW weight decay.
        schedule: ``"cosine"`` (to 1 % of ``lr`` at the last epoch), ``"step"`` (x0.1 at
            50 % and 75 % of the epochs) or ``"constant"``.
        warmup_epochs: linear warm-up epochs.
        grad_clip: max global gradient norm (``0`` = off).
        patience: early stopping after this many epochs without a better validation MAE.
        loss: ``"mae"``, ``"mse"`` or ``"rmse"`` (masked, on scaled values).
        max_batches: cap on training batches per epoch (``None`` = all).
        seed: seed of weights, shuffling and dropout.
        progress: show a tqdm bar.
    """

    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_epochs: int = 1
    grad_clip: float = 5.0
    patience: int = 8
    loss: str = "mae"
    max_batches: int | None = None
    seed: int = 0
    progress: bool = True

    def lr_factor(self, epoch: int) -> float:
        """Multiplier of ``lr`` during (0-based) ``epoch``."""
        if epoch < self.warmup_epochs:
            return (epoch + 1) / (self.warmup_epochs + 1)
        if self.schedule == "constant":
            return 1.0
        if self.schedule == "step":
            return 0.1 ** sum(epoch >= m * self.epochs for m in (0.5, 0.75))
        if self.schedule == "cosine":
            span = max(self.epochs - self.warmup_epochs - 1, 1)
            p = min((epoch - self.warmup_epochs) / span, 1.0)
            return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * p))
        raise ValueError(f"unknown schedule {self.schedule!r}; expected cosine, step or constant")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002  (seeds third-party code using the legacy API)
    torch.manual_seed(seed)


def model_inputs(batch: Batch, scaler: Scaler) -> Tensor:
    """Scaled inputs with missing entries set to 0 (the missing-value rule).

    Shapes:
        output: [B, L, N, F]
    """
    return torch.where(
        batch.x_mask, scaler.transform(batch.x), torch.zeros((), dtype=batch.x.dtype)
    )


def predict(
    model: nn.Module, batch: Batch, scaler: Scaler, edge_index: Tensor, edge_weight: Tensor
) -> Tensor:
    """Model forecast in original units.

    Shapes:
        output: [B, H, N, F_out]
    """
    out = model(model_inputs(batch, scaler), edge_index, edge_weight, batch.covariates)
    return scaler.inverse_transform(out)


@torch.no_grad()
def evaluate_forecaster(
    forecast: Callable[[Batch], Tensor], windows: WindowDataset, batch_size: int = 64
) -> dict[str, Any]:
    """Masked metrics of ``forecast(batch) -> [B, H, N, F]`` over all windows (exact sums)."""
    acc = MetricAccumulator(windows.horizon)
    for batch in windows.loader(batch_size):
        acc.update(forecast(batch), batch.y, batch.y_mask)
    return acc.compute()


class Trainer:
    """Fit a model on the train windows with early stopping on validation masked MAE.

    Files in ``run_dir``: ``best.pt`` (weights of the best validation epoch), ``last.pt``
    (everything needed to resume: weights, optimiser, epoch, RNG states, early-stopping
    state) and ``train.log``.

    Args:
        model: any registered model.
        data: the series (windows are index views into it).
        protocol: a fitted :class:`~stgraph.data.protocol.Protocol`.
        config: training hyper-parameters.
        run_dir: output folder.
    """

    def __init__(
        self,
        model: nn.Module,
        data: SpatioTemporalData,
        protocol: Protocol,
        config: TrainConfig,
        run_dir: str | Path,
    ) -> None:
        if not protocol.is_fitted:
            raise ValueError("Trainer needs a fitted protocol (protocol.fit(data))")
        if config.loss not in LOSSES:
            raise ValueError(f"unknown loss {config.loss!r}; expected one of {sorted(LOSSES)}")
        self.model, self.data, self.protocol, self.config = model, data, protocol, config
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.scaler = protocol.get_scaler()
        self.edge_index, self.edge_weight = data.graph.edge_index, data.graph.edge_weight
        self.train_windows = protocol.windows(data, "train")
        self.val_windows = protocol.windows(data, "val")
        if len(self.train_windows) == 0:
            raise ValueError(
                f"{data.name}: no training windows for L={protocol.lookback}, H={protocol.horizon}"
            )
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        self.generator = torch.Generator().manual_seed(config.seed)
        self.epoch = 0
        self.best_val = math.inf
        self.best_epoch = -1
        self.bad_epochs = 0
        self.history: list[dict[str, float]] = []
        self.train_seconds = 0.0

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
        }

    def _save(self, name: str, obj: Any) -> None:
        with atomic_path(self.run_dir / name) as tmp:
            torch.save(obj, tmp)

    def resume(self, path: str | Path | None = None) -> None:
        """Restore the full training state from ``last.pt`` (loaded with ``weights_only=True``)."""
        state = torch.load(path or self.run_dir / "last.pt", map_location="cpu", weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        for key in ("epoch", "best_val", "best_epoch", "bad_epochs", "history", "train_seconds"):
            setattr(self, key, state[key])

    # ------------------------------------------------------------------ loop
    def _train_epoch(self) -> float:
        cfg = self.config
        self.model.train()
        loss_fn = LOSSES[cfg.loss]
        for group in self.optimizer.param_groups:
            group["lr"] = cfg.lr * cfg.lr_factor(self.epoch)
        n_batches = self.train_windows.num_batches(cfg.batch_size)
        if cfg.max_batches is not None:
            n_batches = min(n_batches, cfg.max_batches)
        bar = tqdm(
            total=n_batches,
            desc=f"epoch {self.epoch + 1}/{cfg.epochs}",
            disable=not cfg.progress,
            leave=False,
            dynamic_ncols=True,
        )
        total, seen = 0.0, 0
        for i, batch in enumerate(
            self.train_windows.loader(cfg.batch_size, shuffle=True, generator=self.generator)
        ):
            if i >= n_batches:
                break
            out = self.model(
                model_inputs(batch, self.scaler),
                self.edge_index,
                self.edge_weight,
                batch.covariates,
            )
            loss = loss_fn(out, self.scaler.transform(batch.y), batch.y_mask)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            total += loss.item() * len(batch)
            seen += len(batch)
            bar.set_postfix(loss=f"{total / seen:.4f}")
            bar.update()
        bar.close()
        return total / max(seen, 1)

    def validate(self) -> dict[str, Any]:
        """Masked metrics on the validation windows (original units)."""
        self.model.eval()
        return evaluate_forecaster(
            lambda b: predict(self.model, b, self.scaler, self.edge_index, self.edge_weight),
            self.val_windows,
            self.config.batch_size,
        )

    def fit(self, until_epoch: int | None = None) -> dict[str, Any]:
        """Train until ``config.epochs`` (or ``until_epoch``, to stop early and resume later) or
        early stopping. Returns a summary with the best validation MAE and timings."""
        cfg = self.config
        stop = min(cfg.epochs, until_epoch or cfg.epochs)
        if self.epoch == 0:
            seed_everything(cfg.seed)
        while self.epoch < stop and self.bad_epochs < cfg.patience:
            t0 = time.perf_counter()
            train_loss = self._train_epoch()
            val = self.validate()["overall"]["mae"]
            val = math.inf if val is None else val
            self.train_seconds += time.perf_counter() - t0
            improved = val < self.best_val
            if improved:
                self.best_val, self.best_epoch, self.bad_epochs = val, self.epoch, 0
                self._save("best.pt", self.model.state_dict())
            else:
                self.bad_epochs += 1
            self.history.append(
                {
                    "epoch": self.epoch + 1,
                    "train_loss": train_loss,
                    "val_mae": val,
                    "lr": cfg.lr * cfg.lr_factor(self.epoch),
                }
            )
            msg = (
                f"epoch {self.epoch + 1}/{cfg.epochs} train_loss {train_loss:.4f} val_mae {val:.4f}"
                f"{' *' if improved else ''} ({self.train_seconds:.0f}s)"
            )
            log.info(msg)
            with (self.run_dir / "train.log").open("a") as f:
                f.write(msg + "\n")
            self.epoch += 1
            self._save("last.pt", self._state())
        return {
            "best_val_mae": self.best_val,
            "best_epoch": self.best_epoch + 1,
            "epochs": self.epoch,
            "train_seconds": self.train_seconds,
            "early_stopped": self.bad_epochs >= cfg.patience,
        }

    def load_best(self) -> None:
        """Load ``best.pt`` into the model."""
        self.model.load_state_dict(
            torch.load(self.run_dir / "best.pt", map_location="cpu", weights_only=True)
        )


def config_dict(cfg: TrainConfig) -> dict[str, Any]:
    """JSON form of a :class:`TrainConfig`."""
    return dataclasses.asdict(cfg)
