"""Registered forecasting models (``forward(x, edge_index, edge_weight, covariates)``)."""

from stgraph.models import (  # noqa: F401  (registration)
    attention_cnn,
    attention_rnn,
    cnn_lstm,
    dcrnn,
    gcn_transformer,
    stcn,
)
from stgraph.models.registry import (
    ModelSpec,
    build_model,
    check_hparams,
    get_model,
    hyperparameters,
    list_models,
    register_model,
)

__all__ = [
    "ModelSpec",
    "build_model",
    "check_hparams",
    "get_model",
    "hyperparameters",
    "list_models",
    "register_model",
]
