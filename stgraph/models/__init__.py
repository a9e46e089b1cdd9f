"""Registered forecasting models (``forward(x, edge_index, edge_weight, covariates)``)."""

from stgraph.models import dcrnn, gcn_transformer  # noqa: F401  (registration)
from stgraph.models.registry import ModelSpec, build_model, get_model, list_models, register_model

__all__ = ["ModelSpec", "build_model", "get_model", "list_models", "register_model"]
