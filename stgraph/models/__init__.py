"""Registered forecasting models (``forward(x, edge_index, edge_weight, covariates)``).

Every module of this package is imported here, so a model registers itself by living in a
file of ``stgraph/models/`` with the :func:`register_model` decorator: adding a model is one
new file.
"""

import importlib
import pkgutil

from stgraph.models.registry import (
    Capabilities,
    ModelSpec,
    build_model,
    check_hparams,
    check_pairing,
    get_model,
    hyperparameters,
    list_models,
    register_model,
)

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("registry", "common"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "Capabilities",
    "ModelSpec",
    "build_model",
    "check_hparams",
    "check_pairing",
    "get_model",
    "hyperparameters",
    "list_models",
    "register_model",
]
