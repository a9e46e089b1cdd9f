"""Training, masked metrics, baselines and end-to-end runs."""

from stgraph.engine.baselines import BASELINES, HistoricalAverage, LastValue, SeasonalNaive
from stgraph.engine.experiment import evaluate_run, load_run, train_run
from stgraph.engine.metrics import (
    MetricAccumulator,
    masked_mae,
    masked_mape,
    masked_mse,
    masked_rmse,
)
from stgraph.engine.trainer import TrainConfig, Trainer

__all__ = [
    "BASELINES",
    "HistoricalAverage",
    "LastValue",
    "MetricAccumulator",
    "SeasonalNaive",
    "TrainConfig",
    "Trainer",
    "evaluate_run",
    "load_run",
    "masked_mae",
    "masked_mape",
    "masked_mse",
    "masked_rmse",
    "train_run",
]
