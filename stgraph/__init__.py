"""stgraph: graph-based spatio-temporal forecasting.

Tensor layout everywhere: ``[batch, time, nodes, features]``; graphs as PyG-style
``(edge_index [2, E], edge_weight [E])``.
"""

from stgraph._version import __version__
from stgraph.data import Protocol, SpatioTemporalData, load_dataset
from stgraph.engine import (
    Forecaster,
    RunConfig,
    TrainConfig,
    Trainer,
    evaluate_run,
    forecast_run,
    load_run,
    train_distributed,
    train_run,
)
from stgraph.graph import SensorGraph
from stgraph.models import build_model, list_models

__all__ = [
    "Forecaster",
    "Protocol",
    "RunConfig",
    "SensorGraph",
    "SpatioTemporalData",
    "TrainConfig",
    "Trainer",
    "__version__",
    "build_model",
    "evaluate_run",
    "forecast_run",
    "list_models",
    "load_dataset",
    "load_run",
    "train_distributed",
    "train_run",
]
