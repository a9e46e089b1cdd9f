"""End-to-end runs: load data -> fit protocol -> train -> evaluate -> run directory; and reload."""

from __future__ import annotations

import json
import logging
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

import stgraph
from stgraph._atomic import atomic_write_text
from stgraph.data import Protocol, list_datasets, load_dataset
from stgraph.data.io.cards import card_protocol
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.engine.baselines import BASELINES
from stgraph.engine.report import metrics_table
from stgraph.engine.trainer import (
    TrainConfig,
    Trainer,
    config_dict,
    evaluate_forecaster,
    predict,
    seed_everything,
)
from stgraph.models import ModelSpec, build_model

log = logging.getLogger("stgraph.run")


@dataclass
class RunResult:
    """What a run produced: its folder, metrics and the printed table."""

    run_dir: Path
    metrics: dict[str, Any]
    table: str = field(repr=False)


def _write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2) + "\n")


def make_protocol(dataset: str, data: SpatioTemporalData, **overrides: Any) -> Protocol:
    """The dataset card's default protocol (Protocol defaults when the data has no card) with
    ``overrides`` (``None`` values ignored), fitted."""
    kw: dict[str, Any] = dict(card_protocol(dataset))
    kw.update({k: v for k, v in overrides.items() if v is not None})
    for key in ("split", "split_dates"):
        if kw.get(key) is not None:
            kw[key] = tuple(kw[key])
    return Protocol(dataset=dataset, **kw).fit(data)


def model_spec(data: SpatioTemporalData, protocol: Protocol) -> ModelSpec:
    """Structural model inputs for ``data`` under ``protocol``."""
    return ModelSpec(
        in_channels=data.num_features,
        out_channels=data.num_features,
        lookback=protocol.lookback,
        horizon=protocol.horizon,
        num_nodes=data.num_nodes,
        num_covariates=int(data.covariates.shape[-1]),  # type: ignore[union-attr]
        steps_per_day=data.steps_per_day,
    )


def evaluate_all(
    model: nn.Module,
    data: SpatioTemporalData,
    protocol: Protocol,
    split: str = "test",
    batch_size: int = 64,
) -> dict[str, dict[str, Any]]:
    """Masked metrics of the model and every baseline on ``split``."""
    windows = protocol.windows(data, split)
    scaler = protocol.get_scaler()
    ei, ew = data.graph.edge_index, data.graph.edge_weight
    model.eval()
    results = {
        "model": evaluate_forecaster(
            lambda b: predict(model, b, scaler, ei, ew), windows, batch_size
        )
    }
    for name, cls in BASELINES.items():
        base = cls().fit(data, protocol)
        results[name] = evaluate_forecaster(base.predict, windows, batch_size)
    return results


def _metrics_json(
    dataset: str,
    model_name: str,
    split: str,
    results: dict[str, dict[str, Any]],
    extra: dict[str, Any],
) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "model": model_name,
        "split": split,
        "overall": results["model"]["overall"],
        "horizons": results["model"]["horizons"],
        "baselines": {k: v for k, v in results.items() if k != "model"},
        **extra,
    }


def train_run(
    dataset: str,
    model_name: str,
    *,
    out: str | Path | None = None,
    data_dir: str | Path | None = None,
    train: TrainConfig | None = None,
    hparams: dict[str, Any] | None = None,
    protocol_overrides: dict[str, Any] | None = None,
    data: SpatioTemporalData | None = None,
    resume: bool = False,
) -> RunResult:
    """Train and evaluate ``model_name`` on ``dataset``; write a run directory.

    The run directory holds ``config.json``, ``protocol.json``, ``metrics.json``,
    ``best.pt``, ``last.pt`` and ``train.log``.

    Args:
        dataset: registered dataset name.
        model_name: registered model name.
        out: run directory (default ``runs/<dataset>-<model>-<UTC time>``).
        data_dir: data root for real datasets.
        train: training hyper-parameters.
        hparams: model hyper-parameter overrides.
        protocol_overrides: e.g. ``{"lookback": 12, "horizon": 3, "seed": 1}``.
        data: an already loaded series (skips loading ``dataset``).
        resume: continue from ``out/last.pt``.
    """
    train = train or TrainConfig()
    hparams = dict(hparams or {})
    run_dir = (
        Path(out)
        if out
        else Path("runs") / f"{dataset}-{model_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    data = data if data is not None else load_dataset(dataset, data_dir)
    protocol = make_protocol(dataset, data, seed=train.seed, **(protocol_overrides or {}))
    spec = model_spec(data, protocol)
    seed_everything(train.seed)
    model = build_model(model_name, spec, **hparams)
    n_params = sum(p.numel() for p in model.parameters())
    config = {
        "dataset": dataset,
        "model": model_name,
        "hparams": hparams,
        "spec": spec.to_dict(),
        "train": config_dict(train),
        "data_dir": None if data_dir is None else str(data_dir),
        "versions": {
            "stgraph": stgraph.__version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
    }
    _write_json(run_dir / "config.json", config)
    protocol.save(run_dir / "protocol.json")
    trainer = Trainer(model, data, protocol, train, run_dir)
    if resume:
        trainer.resume()
    summary = trainer.fit()
    trainer.load_best()
    results = evaluate_all(model, data, protocol, "test", train.batch_size)
    extra = {
        "train_seconds": round(summary["train_seconds"], 2),
        "params": n_params,
        "epochs": summary["epochs"],
        "best_epoch": summary["best_epoch"],
        "best_val_mae": summary["best_val_mae"],
    }
    metrics = _metrics_json(dataset, model_name, "test", results, extra)
    _write_json(run_dir / "metrics.json", metrics)
    table = metrics_table(
        {model_name if k == "model" else k: v for k, v in results.items()},
        protocol.horizon,
        data.freq.total_seconds() / 60,
    )
    return RunResult(run_dir, metrics, table)


def load_run(
    run_dir: str | Path,
    data_dir: str | Path | None = None,
    data: SpatioTemporalData | None = None,
) -> tuple[nn.Module, SpatioTemporalData, Protocol, dict[str, Any]]:
    """Rebuild a run's model (best weights, read with ``weights_only=True``), data and protocol.

    Args:
        run_dir: a run directory written by :func:`train_run`.
        data_dir: data root for a registered real dataset (default: the one the run used).
        data: the series the run was trained on, for runs on data built in memory (e.g. by
            :func:`stgraph.data.from_long_dataframe`), which no registered name reloads. It
            must have the run's node count, features and covariates.

    Returns:
        ``(model, data, protocol, config)``; the model is in train mode, as built.
    """
    run_dir = Path(run_dir)
    for name in ("config.json", "protocol.json", "best.pt"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"{run_dir}: missing {name}; is this a stgraph run directory?")
    config = json.loads((run_dir / "config.json").read_text())
    protocol = Protocol.load(run_dir / "protocol.json")
    spec = ModelSpec(**config["spec"])
    if data is None:
        if config["dataset"] not in {e.name for e in list_datasets()}:
            raise ValueError(
                f"{run_dir}: the run was trained on {config['dataset']!r}, which is not a "
                "registered dataset (data built in memory?); reload it from Python with "
                "evaluate_run(run_dir, data=<the same series>)"
            )
        data = load_dataset(config["dataset"], data_dir or config.get("data_dir"))
    got, want = model_spec(data, protocol).to_dict(), spec.to_dict()
    if got != want:
        diff = ", ".join(f"{k} {v} (run: {want[k]})" for k, v in got.items() if v != want[k])
        raise ValueError(f"{run_dir}: data {data.name!r} does not fit the run's model: {diff}")
    model = build_model(config["model"], spec, **config["hparams"])
    model.load_state_dict(torch.load(run_dir / "best.pt", map_location="cpu", weights_only=True))
    return model, data, protocol, config


def evaluate_run(
    run_dir: str | Path,
    data_dir: str | Path | None = None,
    split: str = "test",
    data: SpatioTemporalData | None = None,
) -> RunResult:
    """Re-evaluate a saved run on ``split`` with its saved protocol (scaler included), through
    the same masked metrics and baselines as training (see :func:`load_run` for the args).

    Args:
        run_dir: a run directory written by :func:`train_run`.
        data_dir: data root for a registered real dataset.
        split: ``"train"``, ``"val"`` or ``"test"``.
        data: the in-memory series the run was trained on (see :func:`load_run`).
    """
    model, data, protocol, config = load_run(run_dir, data_dir, data)
    results = evaluate_all(model, data, protocol, split, config["train"]["batch_size"])
    metrics = _metrics_json(config["dataset"], config["model"], split, results, {})
    table = metrics_table(
        {config["model"] if k == "model" else k: v for k, v in results.items()},
        protocol.horizon,
        data.freq.total_seconds() / 60,
    )
    return RunResult(Path(run_dir), metrics, table)
