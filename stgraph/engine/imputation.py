r"""Missing-value imputation as a task: mask-and-reconstruct evaluation on observed values.

A share of the *observed* entries is hidden (the evaluation mask), every method
reconstructs the series from what is left, and masked MAE / RMSE are computed on the hidden
entries only, within one time split. Evaluation masks follow GRIN's protocol (Cini, Marisca
and Alippi, *Filling the G_ap_s: Multivariate Time Series Imputation by Graph Neural
Networks*, ICLR 2022):

- :func:`point_mask`: each observed entry is hidden with probability ``p`` (point missing);
- :func:`block_mask`: sensor failures of ``min_len..max_len`` consecutive steps starting
  with probability ``p_fault`` per step and series, plus ``p_point`` point missing (block
  missing);
- or a given mask, e.g. AQI-36's official one
  (:func:`stgraph.data.io.loaders.air_quality.aqi36_evaluation_mask`).

Methods (:data:`IMPUTATION_METHODS`): ``node_mean`` (each series' training mean),
``climatology`` (per-node seasonal slot means of the training split,
:class:`~stgraph.engine.baselines.HistoricalAverage`), ``interpolation`` (linear in time
between the nearest visible steps of the same series, constant beyond the ends), ``idw``
(inverse-distance weighting of the stations visible at the same step,
:mod:`stgraph.graph.idw`) and ``learned`` (a graph model trained self-supervised on the
training split, :mod:`stgraph.engine.imputer`). Where a method has nothing to go on (no
visible neighbour at that step, a series never visible) it falls back to ``node_mean``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from stgraph.data.io.cards import card_protocol
from stgraph.data.nodesplit import hide_entries
from stgraph.data.protocol import Protocol
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.engine.baselines import HistoricalAverage
from stgraph.engine.config import TrainConfig
from stgraph.engine.metrics import MetricAccumulator
from stgraph.engine.report import text_table
from stgraph.graph.idw import NodeIDW


def _check_share(name: str, p: float) -> None:
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p < 1:
        raise ValueError(f"{name} must be in [0, 1), got {p!r}")


def point_mask(mask: Tensor, p: float = 0.25, seed: int = 0) -> Tensor:
    """Hide each observed entry with probability ``p`` (GRIN's point-missing protocol).

    Shapes:
        mask: [T, N, F] bool (observed) -> [T, N, F] bool, a subset of ``mask``
    """
    _check_share("point share p", p)
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.random(tuple(mask.shape)) < p) & mask.bool()


def block_mask(
    mask: Tensor,
    p_fault: float = 0.0015,
    min_len: int = 12,
    max_len: int = 48,
    p_point: float = 0.05,
    seed: int = 0,
) -> Tensor:
    """GRIN's block-missing protocol: in every series (node, feature) a failure starts at
    each step with probability ``p_fault`` and lasts a uniform ``min_len..max_len`` steps;
    on top, each entry is hidden with probability ``p_point``. Only observed entries are
    hidden.

    Shapes:
        mask: [T, N, F] bool -> [T, N, F] bool, a subset of ``mask``
    """
    _check_share("p_fault", p_fault)
    _check_share("p_point", p_point)
    if not 1 <= min_len <= max_len:
        raise ValueError(f"block lengths need 1 <= min_len <= max_len, got {min_len}, {max_len}")
    rng = np.random.default_rng(seed)
    shape = tuple(mask.shape)
    out = rng.random(shape) < p_point
    t_len = shape[0]
    for t, n, f in zip(*np.nonzero(rng.random(shape) < p_fault), strict=True):
        out[t : min(t + int(rng.integers(min_len, max_len + 1)), t_len), n, f] = True
    return torch.from_numpy(out) & mask.bool()


def interpolate_time(values: Tensor, mask: Tensor, fallback: Tensor) -> Tensor:
    """Linear interpolation in time of each series between its visible steps (constant
    beyond the first and last one); ``fallback`` for a series with no visible step.

    Shapes:
        values, mask: [T, N, F]; fallback: [N, F] -> [T, N, F]
    """
    t, n, f = values.shape
    v = values.double().reshape(t, -1).numpy()
    m = mask.reshape(t, -1).numpy()
    out = np.repeat(fallback.double().reshape(1, -1).numpy(), t, 0)
    steps = np.arange(t)
    for j in np.flatnonzero(m.any(0)):
        seen = np.flatnonzero(m[:, j])
        out[:, j] = np.interp(steps, seen, v[seen, j])
    return torch.from_numpy(out).reshape(t, n, f).to(values.dtype)


@dataclass
class ImputationInput:
    """What every imputation method gets.

    Args:
        visible: the series with the evaluation entries hidden.
        protocol: fitted on ``visible`` (split bounds; scaler of the learned imputer).
        climatology: :class:`~stgraph.engine.baselines.HistoricalAverage` fitted on it
            (its ``node_mean`` is every method's fallback).
        options: ``model``, ``hparams``, ``train``, ``hide_rate`` (learned), ``k`` (IDW).
        notes: what methods report back (the learned imputer's training summary).
    """

    visible: SpatioTemporalData
    protocol: Protocol
    climatology: HistoricalAverage
    options: dict[str, Any]
    notes: dict[str, Any] = field(default_factory=dict)

    def node_mean(self) -> Tensor:
        """Each series' visible training mean at every step.

        Shapes:
            output: [T, N, F]
        """
        return self.climatology.node_mean.expand(self.visible.num_steps, -1, -1)


def _climatology(inp: ImputationInput) -> Tensor:
    clim = inp.climatology
    return clim.table[clim.slots]


def _interpolation(inp: ImputationInput) -> Tensor:
    v = inp.visible
    return interpolate_time(v.values, v.mask, inp.climatology.node_mean)


def _idw(inp: ImputationInput) -> Tensor:
    v = inp.visible
    est, ok = NodeIDW(v.graph, 2.0, inp.options["k"])(v.values, v.mask)
    return torch.where(ok, est, inp.node_mean())


def _learned(inp: ImputationInput) -> Tensor:
    from stgraph.engine.imputer import train_imputer

    o = inp.options
    imputer = train_imputer(
        inp.visible, inp.protocol, o["model"], o["hparams"], o["train"], o["hide_rate"]
    )
    keys = ("epochs", "best_epoch", "cpu_seconds")
    inp.notes["learned"] = {k: imputer.summary.get(k) for k in keys}
    return imputer.reconstruct(inp.visible)


#: imputation methods by name: ``ImputationInput -> [T, N, F]`` reconstruction
IMPUTERS: dict[str, Callable[[ImputationInput], Tensor]] = {
    "node_mean": ImputationInput.node_mean,
    "climatology": _climatology,
    "interpolation": _interpolation,
    "idw": _idw,
    "learned": _learned,
}
IMPUTATION_METHODS = tuple(IMPUTERS)


@dataclass
class ImputationResult:
    """Masked MAE / RMSE per method on the hidden entries of one split, and its table."""

    metrics: dict[str, Any]
    table: str = field(repr=False)


def _score(pred: Tensor, data: SpatioTemporalData, hidden: Tensor, lo: int, hi: int) -> Any:
    acc = MetricAccumulator(1)
    acc.update(pred[lo:hi, None], data.values[lo:hi, None], hidden[lo:hi, None])
    out = acc.compute()["overall"]
    return {k: out[k] for k in ("mae", "rmse", "count")}


def _table(results: dict[str, Any]) -> str:
    rows = []
    for k, v in results.items():
        scores = [f"{v[m]:.3f}" if v[m] is not None else "n/a" for m in ("mae", "rmse")]
        rows.append([k, *scores, str(v["count"])])
    return text_table([["method", "MAE", "RMSE", "hidden entries"]], rows)


def evaluate_imputation(
    data: SpatioTemporalData,
    hidden: Tensor,
    *,
    methods: Sequence[str] = IMPUTATION_METHODS,
    split: str = "test",
    window: int = 24,
    model: str = "tgcn",
    hparams: dict[str, Any] | None = None,
    train: TrainConfig | None = None,
    hide_rate: float = 0.25,
    idw_k: int | None = None,
) -> ImputationResult:
    """Hide ``hidden`` (observed entries), reconstruct with each method, and score masked
    MAE / RMSE on the hidden entries of ``split``.

    Statistics (means, climatology, the learned imputer's weights and scaler) come from
    the training split of the visible series; interpolation and IDW read the visible
    values of the whole series, as an offline imputation does.

    Args:
        data: the series with every available observation.
        hidden: the evaluation mask (:func:`point_mask`, :func:`block_mask` or a given
            one); entries that are not observed are ignored.
        methods: names from :data:`IMPUTATION_METHODS`.
        split: ``"train"``, ``"val"``, ``"test"`` (of the dataset card's chronological
            split) or ``"all"``.
        window: ``W``, the learned imputer's window length.
        model, hparams, train, hide_rate: the learned imputer (see
            :func:`~stgraph.engine.imputer.train_imputer`).
        idw_k: IDW over the ``k`` nearest visible stations (``None`` = all).

    Shapes:
        hidden: [T, N, F] bool
    """
    unknown = [m for m in methods if m not in IMPUTATION_METHODS]
    if unknown or not methods:
        raise ValueError(
            f"unknown imputation method(s) {unknown}; choose from {IMPUTATION_METHODS}"
        )
    hidden = hidden.bool() & data.mask
    visible = hide_entries(data, hidden)
    proto = Protocol(
        data.name,
        lookback=1,
        horizon=window,
        split=tuple(card_protocol(data.name).get("split", (0.7, 0.1, 0.2))),
    ).fit(visible)
    assert proto.bounds is not None
    lo, hi = (0, data.num_steps) if split == "all" else proto.bounds.target_range(split)
    if not bool(hidden[lo:hi].any()):
        raise ValueError(
            f"{data.name}: the evaluation mask hides no observed entry in the {split} split"
        )
    inp = ImputationInput(
        visible,
        proto,
        HistoricalAverage().fit(visible, proto),
        {"model": model, "hparams": hparams, "train": train, "hide_rate": hide_rate, "k": idw_k},
    )
    results = {name: _score(IMPUTERS[name](inp), data, hidden, lo, hi) for name in methods}
    return ImputationResult(
        {
            "dataset": data.name,
            "split": split,
            "range": [lo, hi],
            "results": results,
            "training": inp.notes,
        },
        _table(results),
    )
