"""End-to-end runs: config -> data -> forecaster -> train -> evaluate -> run directory; and
reloading a run to evaluate or forecast.

A run directory holds ``config.json`` (the :class:`~stgraph.engine.config.RunConfig`),
``protocol.json`` (fitted: split bounds, scaler statistics, calendar), ``forecaster.json`` +
``graph.json`` + ``model.pt`` (the trained :class:`~stgraph.engine.forecaster.Forecaster`),
``best.pt`` / ``last.pt`` (training checkpoints), ``train.log`` and ``metrics.json``.

For a distributional head (quantiles or a Gaussian), ``metrics.json["probabilistic"]`` holds
``{"model": ..., "climatological_quantile": ...}``, each ``{"overall": {"crps", "coverage",
"width", "nominal", "count"}, "horizons": {"1": {...}, ...}}`` (see
:mod:`stgraph.engine.probmetrics`), and the printed table gets a second table of them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from stgraph._atomic import atomic_write_text
from stgraph.data import get_dataset, list_datasets, load_dataset
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.engine.config import ConfigError, RunConfig, TrainConfig
from stgraph.engine.forecaster import Forecaster
from stgraph.engine.report import metrics_table, probabilistic_table
from stgraph.engine.rundir import CONFIG, prepare_run_dir, read_json

log = logging.getLogger("stgraph.run")


@dataclass
class RunResult:
    """What a run produced: its folder, metrics and the printed table."""

    run_dir: Path
    metrics: dict[str, Any]
    table: str = field(repr=False)


def _write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2) + "\n")


def _registered(name: str) -> bool:
    """A registered dataset, or the path of a series directory (which
    :func:`~stgraph.data.io.registry.get_dataset` registers on first use)."""
    try:
        get_dataset(name)
    except KeyError:
        return False
    return True


def load_data(
    dataset: str, data_dir: str | Path | None = None, data: SpatioTemporalData | None = None
) -> SpatioTemporalData:
    """``data`` when given, else the registered dataset ``dataset``.

    Raises:
        ConfigError: ``dataset`` is not registered and no data was passed.
    """
    if data is not None:
        return data
    if not _registered(dataset):
        known = ", ".join(e.name for e in list_datasets())
        raise ConfigError(
            f"unknown dataset {dataset!r}; registered: {known} (or the path of a series "
            "directory, see stgraph.data.write_series; for an in-memory series pass data=... "
            "from Python)"
        )
    return load_dataset(dataset, data_dir)


def _results_json(
    config: RunConfig,
    split: str,
    results: dict[str, dict[str, Any]],
    extra: dict[str, Any],
    prob: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    if prob:
        extra = {**extra, "probabilistic": prob}
    return {
        "dataset": config.dataset,
        "model": config.model,
        "split": split,
        "overall": results["model"]["overall"],
        "horizons": results["model"]["horizons"],
        "baselines": {k: v for k, v in results.items() if k != "model"},
        **extra,
    }


def _table(
    config: RunConfig,
    results: dict[str, dict[str, Any]],
    data: SpatioTemporalData,
    prob: dict[str, dict[str, Any]],
) -> str:
    def named(res: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {config.model if k == "model" else k: v for k, v in res.items()}

    table = metrics_table(named(results), config.proto.horizon, data.freq)
    if not prob:
        return table
    return f"{table}\n\n{probabilistic_table(named(prob), config.proto.horizon, data.freq)}"


def train_run(
    config: RunConfig | str,
    model_name: str | None = None,
    *,
    out: str | Path | None = None,
    data_dir: str | Path | None = None,
    data: SpatioTemporalData | None = None,
    resume: bool = False,
    overwrite: bool = False,
    device: str = "cpu",
    progress: bool | None = None,
    train: TrainConfig | None = None,
    hparams: dict[str, Any] | None = None,
    protocol_overrides: dict[str, Any] | None = None,
) -> RunResult:
    """Train and evaluate a run; write its run directory.

    Everything is validated (config, data, windows in every split, the model builds) before
    the directory is created. With ``resume`` the saved ``config.json`` is the run's config
    and a ``config`` that differs from it is refused with the differences named.

    Args:
        config: a :class:`RunConfig`, or a dataset name followed by ``model_name`` (then
            ``train``, ``hparams`` and ``protocol_overrides`` build the config).
        model_name: registered model name (with a dataset name as ``config``).
        out: run directory (default ``runs/<dataset>-<model>-<UTC time>``).
        data_dir: data root for registered real datasets.
        data: an already loaded series (skips loading ``config.dataset``).
        resume: continue the run in ``out`` from its ``last.pt``.
        overwrite: replace the run in ``out``.
        device: where the model trains (``"cpu"``, ``"cuda"``, ...).
        progress: show a progress bar (default: ``config.train.progress``).
        train, hparams, protocol_overrides: see ``config``.

    Raises:
        ConfigError: an invalid setting, named; nothing is written.
        TrainingError: training diverged or never produced a finite validation MAE.
    """
    if isinstance(config, str):
        if model_name is None:
            raise ConfigError("train_run(dataset, model_name, ...): model_name is missing")
        config = RunConfig.create(
            config, model_name, hparams=hparams, protocol=protocol_overrides, train=train
        )
    elif model_name is not None or train or hparams or protocol_overrides:
        raise ConfigError("pass either a RunConfig or dataset + model_name + settings, not both")
    if resume:
        if out is None:
            raise ConfigError("resume needs the run directory (out=...)")
        saved = RunConfig.from_dict(read_json(Path(out) / CONFIG), str(Path(out) / CONFIG))
        diff = config.differences(saved)
        if diff:
            raise ConfigError(
                f"{out}: resume with other settings than the run's: {'; '.join(diff)}"
            )
    if progress is not None and progress != config.train.progress:
        config = config.replace(train=dataclasses.replace(config.train, progress=progress))
    data = load_data(config.dataset, data_dir, data)
    forecaster = Forecaster.build(config, data, device)
    run_dir = prepare_run_dir(out, config.dataset, config.model, resume=resume, overwrite=overwrite)
    log.info("run directory: %s", run_dir)
    if not resume:
        config.save(run_dir / CONFIG)
    summary = forecaster.fit(data, config.train, run_dir, resume=resume)
    forecaster.save(run_dir)
    results = forecaster.evaluate(data, "test", config.train.batch_size)
    prob = forecaster.evaluate_probabilistic(data, "test", config.train.batch_size)
    extra = {
        "train_seconds": round(summary["train_seconds"], 2),
        "params": sum(p.numel() for p in forecaster.model.parameters()),
        "epochs": summary["epochs"],
        "best_epoch": summary["best_epoch"],
        "best_val_mae": summary["best_val_mae"],
        "data_dir": None if data_dir is None else str(data_dir),
    }
    metrics = _results_json(config, "test", results, extra, prob)
    _write_json(run_dir / "metrics.json", metrics)
    return RunResult(run_dir, metrics, _table(config, results, data, prob))


def load_run(
    run_dir: str | Path,
    data_dir: str | Path | None = None,
    data: SpatioTemporalData | None = None,
    device: str = "cpu",
) -> tuple[Forecaster, SpatioTemporalData]:
    """Reload a finished run: its :class:`Forecaster` (in eval mode) and its series.

    Args:
        run_dir: a run directory written by :func:`train_run`.
        data_dir: data root for a registered real dataset (default: the one the run used).
        data: the series the run was trained on, for runs on data built in memory (e.g. by
            :func:`stgraph.data.from_long_dataframe`), which no registered name reloads. It
            must have the run's nodes, features, covariates and step.
        device: where the model runs.

    Raises:
        FileNotFoundError / ValueError: not a finished run directory, a damaged file, or data
            that does not fit the model (each named).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run directory")
    forecaster = Forecaster.load(run_dir, device)
    if data is None:
        dataset = forecaster.config.dataset
        if not _registered(dataset):
            raise ValueError(
                f"{run_dir}: the run was trained on {dataset!r}, which is not a registered "
                "dataset (data built in memory?); reload it from Python with "
                "load_run(run_dir, data=<the same series>)"
            )
        if data_dir is None:
            metrics = run_dir / "metrics.json"
            data_dir = read_json(metrics).get("data_dir") if metrics.is_file() else None
        data = load_dataset(dataset, data_dir)
    forecaster.check_data(data)
    return forecaster, data


def evaluate_run(
    run_dir: str | Path,
    data_dir: str | Path | None = None,
    split: str = "test",
    data: SpatioTemporalData | None = None,
    device: str = "cpu",
) -> RunResult:
    """Re-evaluate a saved run on ``split`` with its saved protocol (scaler included), through
    the same masked metrics and baselines as training (see :func:`load_run` for the args).

    Args:
        run_dir: a run directory written by :func:`train_run`.
        data_dir: data root for a registered real dataset.
        split: ``"train"``, ``"val"`` or ``"test"``.
        data: the in-memory series the run was trained on.
        device: where the model runs.
    """
    forecaster, data = load_run(run_dir, data_dir, data, device)
    config = forecaster.config
    results = forecaster.evaluate(data, split, config.train.batch_size)
    prob = forecaster.evaluate_probabilistic(data, split, config.train.batch_size)
    metrics = _results_json(config, split, results, {}, prob)
    return RunResult(Path(run_dir), metrics, _table(config, results, data, prob))


def forecast_run(
    run_dir: str | Path,
    data: SpatioTemporalData | None = None,
    data_dir: str | Path | None = None,
    device: str = "cpu",
) -> pd.DataFrame:
    """The ``H`` steps after the last observation, from a saved run: a tidy frame with
    columns ``time, node, feature, value`` (+ ``q<level>`` / ``std`` for a distributional
    head, see :meth:`~stgraph.engine.forecaster.Forecaster.forecast`).

    Args:
        run_dir: a run directory written by :func:`train_run`.
        data: recent observations (at least the lookback) with the run's nodes, features and
            step; default: the run's own dataset (forecasting past its end).
        data_dir: data root for a registered real dataset.
        device: where the model runs.
    """
    if data is None:
        forecaster, data = load_run(run_dir, data_dir, None, device)
    else:
        forecaster = Forecaster.load(run_dir, device)
    return forecaster.forecast(data)
