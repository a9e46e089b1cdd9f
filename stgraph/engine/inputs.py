"""What a :class:`~stgraph.engine.forecaster.Forecaster` feeds its model and checks about a
series: the model's structural spec, the scaled inputs, the data signature a saved model
requires, and the covariates of a forecast window."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from stgraph.data.calendar import calendar_features, future_timestamps
from stgraph.data.protocol import Protocol
from stgraph.data.scalers import Scaler
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.data.windows import Batch
from stgraph.engine.rundir import read_json
from stgraph.graph import SensorGraph
from stgraph.graph.builders.lattice import lattice_positions
from stgraph.models import ModelSpec

T = TypeVar("T")


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


def model_inputs(batch: Batch, scaler: Scaler) -> Tensor:
    """Scaled inputs with missing entries set to 0 (the missing-value rule).

    Shapes:
        output: [B, L, N, F]
    """
    return torch.where(
        batch.x_mask, scaler.transform(batch.x), torch.zeros((), dtype=batch.x.dtype)
    )


def data_signature(data: SpatioTemporalData) -> dict[str, Any]:
    """What a series must share with the one a model was trained on: node ids, features,
    covariates and step."""
    return {
        "nodes": list(data.graph.node_ids),
        "features": list(data.feature_names),
        "covariates": list(data.covariate_names),
        "freq": data.freq_str,
        "temporal_edges": data.temporal_edges is not None,
    }


def describe_mismatch(key: str, got: Any, want: Any) -> str:
    """One line naming how ``got`` differs from the run's ``want`` for signature ``key``."""
    if key == "nodes" and isinstance(got, list) and isinstance(want, list):
        extra, lost = sorted(set(got) - set(want)), sorted(set(want) - set(got))
        if extra or lost:
            return f"nodes: unknown {extra[:5]}, missing {lost[:5]} ({len(got)} vs {len(want)})"
        return "nodes: same ids in another order"
    return f"{key} {got!r} (run: {want!r})"


def is_lattice(graph: SensorGraph) -> bool:
    """Whether the nodes are lattice cells (ids ``r<row>_c<col>``)."""
    try:
        lattice_positions(graph)
    except ValueError:
        return False
    return True


def from_file(path: Path, parse: Callable[[dict[str, Any]], T]) -> T:
    """``parse(json of path)`` with any error naming the file."""
    try:
        return parse(read_json(path))
    except (KeyError, TypeError, ValueError) as e:
        msg = str(e) if str(path) in str(e) else f"{path}: damaged ({e})"
        raise ValueError(msg) from None


def future_times(data: SpatioTemporalData, horizon: int) -> pd.DatetimeIndex:
    """The ``horizon`` timestamps after the last one of ``data`` (calendar-aware)."""
    return future_timestamps(data.timestamps[-1], data.freq, horizon)


def window_covariates(
    data: SpatioTemporalData,
    times: pd.DatetimeIndex,
    lookback: int,
    future: Tensor | np.ndarray | None,
) -> Tensor:
    """Covariates of the last ``L`` steps and the ``H`` future steps (calendar channels from
    the future timestamps, user channels from ``future``).

    Shapes:
        output: [L + H, 1 or N, C]
    """
    past = data.covariates[-lookback:]  # type: ignore[index]
    cal = torch.from_numpy(calendar_features(times)).expand(-1, past.shape[1], -1)
    extra = past.shape[-1] - cal.shape[-1]
    if extra == 0:
        return torch.cat([past, cal], 0)
    if future is None:
        names = list(data.covariate_names[cal.shape[-1] :])
        raise ValueError(
            f"the model uses covariates {names}; pass their next {len(times)} values as "
            "future_covariates"
        )
    fut = torch.as_tensor(future, dtype=torch.float32)
    if fut.dim() != 3 or fut.shape[0] != len(times) or fut.shape[2] != extra:
        raise ValueError(
            f"future_covariates must be [{len(times)}, 1 or N, {extra}], got {tuple(fut.shape)}"
        )
    fut = fut.expand(-1, past.shape[1], -1)
    return torch.cat([past, torch.cat([cal, fut], -1)], 0)
