"""Training, masked metrics, baselines, the Forecaster and end-to-end runs."""

from stgraph.engine.baselines import (
    BASELINES,
    STATISTICAL_BASELINES,
    HistoricalAverage,
    LastValue,
    SeasonalNaive,
    get_baseline,
)
from stgraph.engine.config import ConfigError, RunConfig, TrainConfig
from stgraph.engine.ensemble import MeanEnsemble
from stgraph.engine.experiment import evaluate_run, forecast_run, load_run, train_run
from stgraph.engine.forecaster import Forecaster
from stgraph.engine.heldout import heldout_run
from stgraph.engine.imputation import evaluate_imputation
from stgraph.engine.launch import train_distributed
from stgraph.engine.metrics import (
    MetricAccumulator,
    masked_mae,
    masked_mape,
    masked_mse,
    masked_rmse,
)
from stgraph.engine.trainer import Trainer, TrainingError

__all__ = [
    "BASELINES",
    "STATISTICAL_BASELINES",
    "ConfigError",
    "Forecaster",
    "HistoricalAverage",
    "LastValue",
    "MeanEnsemble",
    "MetricAccumulator",
    "RunConfig",
    "SeasonalNaive",
    "TrainConfig",
    "Trainer",
    "TrainingError",
    "evaluate_imputation",
    "evaluate_run",
    "forecast_run",
    "get_baseline",
    "heldout_run",
    "load_run",
    "masked_mae",
    "masked_mape",
    "masked_mse",
    "masked_rmse",
    "train_distributed",
    "train_run",
]
