r"""Held-out stations (kriging / inductive forecasting): train on some stations, forecast at
stations never seen.

The split is by node as well as by time. The graph is the one of *all* stations (as a user
adding a station would build it); the held-out stations' values are hidden
(:func:`~stgraph.data.nodesplit.hide_nodes`): scaler, inputs and loss never see them. Models
that cannot say anything about a node they never saw are refused (:func:`check_inductive`).

Training hides the inputs of a random share of the training stations per window while their
targets stay in the loss (IGNNK's masking: Wu et al., *Inductive Graph Neural Networks for
Spatiotemporal Kriging*, AAAI 2021). A hidden input is by default the IDW interpolation of
the visible stations' inputs (:class:`IDWFill`), else 0 after scaling (:class:`NodeDropout`).
Early stopping uses the usual validation windows: held-out stations take no part in choices.

At test time the held-out stations' inputs are hidden and the metrics cover them only
(:class:`HeldOutWindows`). Baselines there, by inverse-distance weighting
(:mod:`stgraph.graph.idw`, power 2 on great-circle distances) of the observed stations':
``idw_last_value`` (their last observed inputs: a forecast with the model's information),
``idw_climatology`` (their training-split seasonal climatology,
:class:`~stgraph.engine.baselines.HistoricalAverage`) and ``idw_truth (oracle)`` (their true
values at the target times: information no forecast has).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from stgraph._atomic import atomic_write_text
from stgraph.data.nodesplit import NodeSplit, hide_nodes, split_nodes
from stgraph.data.protocol import Protocol
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.data.windows import Batch, WindowDataset
from stgraph.engine.baselines import HistoricalAverage, LastValue
from stgraph.engine.config import ConfigError, RunConfig, TrainConfig
from stgraph.engine.evaluation import drop_mape, evaluate_forecaster, mape_is_meaningful
from stgraph.engine.experiment import load_data
from stgraph.engine.forecaster import Forecaster
from stgraph.engine.inputs import model_spec
from stgraph.engine.report import metrics_table
from stgraph.graph import SensorGraph
from stgraph.graph.idw import NodeIDW
from stgraph.models import ModelSpec, build_model, get_model

#: names of the baseline rows, in table order
IDW_ROWS = ("idw_last_value", "idw_climatology", "idw_truth (oracle)")
#: how hidden inputs reach the model: IDW of the visible stations (:class:`IDWFill`) or 0
INPUT_FILLS = ("idw", "zero")


def check_inductive(model: str, spec: ModelSpec, hparams: dict[str, Any] | None = None) -> None:
    """Refuse a model that cannot forecast at nodes it never saw.

    A model qualifies when it reads the given graph (``Capabilities.uses_graph``), learns no
    adjacency of its own (``adaptive_graph``), is not a grid model (``grid_only``) and none
    of its parameter shapes depends on the number of nodes (built at ``N`` and ``N + 1``
    nodes and compared): a per-node parameter of a held-out node never gets trained.

    Raises:
        ConfigError: naming the model and the capability or parameters that rule it out.
    """
    caps = get_model(model).capabilities
    why = ""
    if not caps.uses_graph:
        why = "it ignores the given graph (Capabilities.uses_graph=False): it cannot see neighbours"
    elif caps.adaptive_graph:
        why = "it learns an adjacency from per-node embeddings (Capabilities.adaptive_graph)"
    elif caps.grid_only:
        why = "it needs nodes on a grid (Capabilities.grid_only)"
    else:
        kw = hparams or {}
        a = build_model(model, spec, **kw).state_dict()
        bigger = dataclasses.replace(spec, num_nodes=spec.num_nodes + 1)
        b = build_model(model, bigger, **kw).state_dict()
        per_node = [k for k, v in a.items() if k not in b or b[k].shape != v.shape]
        if per_node:
            why = f"it has per-node parameters ({', '.join(per_node[:3])})"
    if why:
        raise ConfigError(
            f"model {model!r} cannot forecast at held-out stations: {why}; use a model that "
            "convolves over the given graph, e.g. dcrnn, tgcn, stcn"
        )


def _drops(batch_size: int, rate: float, eligible: Tensor) -> Tensor:
    """[B, 1, N, 1]: each ``eligible`` ([N]) node dropped with probability ``rate``."""
    drop = torch.rand(batch_size, 1, eligible.numel(), 1, device=eligible.device) < rate
    return drop & eligible.view(1, 1, -1, 1)


class NodeDropout(nn.Module):
    r"""Wraps a model; in train mode only, zeroes the inputs of a random share of the
    eligible nodes, independently per window (IGNNK-style masking), so the model learns to
    forecast a node from its neighbours. In eval mode it is the model.

    Args:
        model: the wrapped forecasting model.
        rate: probability that an eligible node's inputs are zeroed in a window.
        eligible: nodes that may be dropped (the observed ones; others are 0 anyway).

    Shapes:
        x: [B, L, N, F]; eligible: [N] bool; output: the model's [B, H, N, F_out]
    """

    def __init__(self, model: nn.Module, rate: float, eligible: Tensor) -> None:
        super().__init__()
        if not 0 <= rate < 1:
            raise ValueError(f"input drop rate must be in [0, 1), got {rate}")
        self.model, self.rate = model, float(rate)
        self.register_buffer("eligible", eligible.bool().clone(), persistent=False)

    def forward(self, x: Tensor, *args: Any, **kw: Any) -> Tensor:
        """The model's forward, dropped nodes' inputs zeroed in train mode."""
        if self.training and self.rate > 0:
            x = x.masked_fill(_drops(len(x), self.rate, self.get_buffer("eligible")), 0.0)
        return self.model(x, *args, **kw)

    def extra_repr(self) -> str:
        return f"rate={self.rate}"


class IDWFill:
    r"""Hides the held-out nodes' inputs and, in training, those of a random share ``rate``
    of the other nodes per window (IGNNK-style), and fills every hidden input entry with the
    inverse-distance-weighted mean of the visible nodes' observed inputs at the same step and
    feature (:meth:`~stgraph.graph.idw.NodeIDW.fill`, original units, the baselines' distances),
    marked observed: the model reads it, not the 0 (the mean) of a missing input.

    Args:
        graph: the graph of all nodes (with coordinates).
        held_out: ``True`` at held-out node positions (always hidden).
        rate: share of the other nodes hidden per training window.
        power: IDW power.

    Shapes:
        held_out: [N] bool; batch x, x_mask: [B, L, N, F] in and out
    """

    def __init__(self, graph: SensorGraph, held_out: Tensor, rate: float = 0, power: float = 2):
        if not 0 <= rate < 1:
            raise ValueError(f"input drop rate must be in [0, 1), got {rate}")
        self.held_out, self.rate = held_out.bool().clone(), float(rate)
        self.idw = NodeIDW(graph, power)

    def __call__(self, batch: Batch, training: bool = False) -> Batch:
        """``batch`` with the hidden nodes' inputs filled (new drops at each training call)."""
        hidden = self.held_out.to(batch.x.device).view(1, 1, -1, 1)
        if training and self.rate > 0:
            hidden = hidden | _drops(len(batch.x), self.rate, ~hidden.view(-1))
        x, x_mask = self.idw.fill(batch.x, batch.x_mask, hidden)
        return dataclasses.replace(batch, x=x, x_mask=x_mask)


class HeldOutForecaster(Forecaster):
    """A :class:`~stgraph.engine.forecaster.Forecaster` whose model reads every batch through
    ``filler`` (:class:`IDWFill`) in training, validation and prediction alike."""

    filler: IDWFill | None = None

    def forward(self, batch: Batch, *args: Any, **kw: Any) -> Tensor:
        """:meth:`Forecaster.forward` of the filled batch."""
        if self.filler is not None:
            batch = self.filler(batch.to(self.device), self.model.training)
        return super().forward(batch, *args, **kw)


class HeldOutWindows(WindowDataset):
    """Windows whose inputs hide the held-out nodes (``x_mask`` False, value 0) and whose
    target mask keeps only them: masked metrics over these windows score the held-out nodes.

    Args:
        data: the full series (true values at every node).
        starts, lookback, horizon: as :class:`~stgraph.data.windows.WindowDataset`.
        held_out: ``True`` at held-out node positions ([N] bool).
    """

    def __init__(
        self,
        data: SpatioTemporalData,
        starts: np.ndarray,
        lookback: int,
        horizon: int,
        held_out: Tensor,
    ) -> None:
        super().__init__(data, starts, lookback, horizon)
        self.held_out = held_out.bool().view(1, 1, -1, 1)

    def batch(self, positions: Tensor | np.ndarray) -> Batch:
        """The windows at ``positions``, held-out inputs hidden, targets at them only."""
        b = super().batch(positions)
        x_mask = b.x_mask & ~self.held_out
        x = torch.where(x_mask, b.x, torch.zeros((), dtype=b.x.dtype))
        return dataclasses.replace(b, x=x, x_mask=x_mask, y_mask=b.y_mask & self.held_out)


class IDWBaselines:
    """The three IDW rows of the module docstring, as ``batch -> [B, H, N, F]`` functions
    (estimates at the held-out nodes; the others, not scored, keep their own values).

    Args:
        data: the full series (the oracle reads the observed stations' true targets).
        hidden: the series with the held-out nodes hidden (fits the climatology).
        protocol: the fitted protocol.
        split: the node split.
        power, k: IDW power; the ``k`` nearest observed stations (``None`` = all).
    """

    def __init__(
        self,
        data: SpatioTemporalData,
        hidden: SpatioTemporalData,
        protocol: Protocol,
        split: NodeSplit,
        power: float = 2.0,
        k: int | None = None,
    ) -> None:
        self.idw, self.data = NodeIDW(data.graph, power, k), data
        self.held = split.node_mask(data.num_nodes)[:, None]  # [N, 1]
        self.last = LastValue().fit(hidden, protocol)
        self.clim = HistoricalAverage().fit(hidden, protocol)
        assert protocol.bounds is not None
        self.seen = hidden.mask[: protocol.bounds.train_end].any(0)  # [N, F]

    def _spread(self, values: Tensor, mask: Tensor) -> Tensor:
        """IDW from the observed nodes to the held-out nodes; ``[..., N, F]`` in and out."""
        return self.idw.fill(values, mask, self.held)[0]

    def last_value(self, batch: Batch) -> Tensor:
        """IDW of the observed stations' last observed inputs, repeated over the horizon."""
        last = self.last.predict(batch)[:, 0]  # [B, N, F]
        return self._spread(last, batch.x_mask.any(1)).unsqueeze(1).expand_as(batch.y)

    def climatology(self, batch: Batch) -> Tensor:
        """IDW of the observed stations' seasonal climatology at the target times."""
        clim = self.clim.predict(batch)
        return self._spread(clim, self.seen.expand_as(clim))

    def oracle(self, batch: Batch) -> Tensor:
        """IDW of the observed stations' *true* values at the target times (an oracle)."""
        t = self.clim._targets(batch)
        return self._spread(self.data.values[t], self.data.mask[t])

    def methods(self) -> dict[str, Callable[[Batch], Tensor]]:
        """``{row name: forecast function}`` in :data:`IDW_ROWS` order."""
        return dict(zip(IDW_ROWS, (self.last_value, self.climatology, self.oracle), strict=True))


@dataclass
class HeldOutResult:
    """What a held-out run produced: metrics per method, the node split and the table."""

    metrics: dict[str, Any]
    split: NodeSplit
    table: str = field(repr=False)


def fit_heldout(
    config: RunConfig,
    hidden: SpatioTemporalData,
    split: NodeSplit,
    input_drop: float = 0.5,
    device: str = "cpu",
    input_fill: str = "idw",
    idw_power: float = 2.0,
) -> tuple[Forecaster, dict[str, Any]]:
    """Fit the protocol (scaler) and train ``config``'s model on ``hidden`` (the series with
    the held-out nodes hidden, :func:`~stgraph.data.nodesplit.hide_nodes`), hiding a share
    ``input_drop`` of the observed nodes' inputs per training window: IDW-filled
    (``input_fill="idw"``: :class:`IDWFill`, power ``idw_power``, also at prediction) or 0
    (``"zero"``: :class:`NodeDropout`).

    Returns:
        ``(forecaster, trainer summary)``; the forecaster holds the bare model, in eval mode.

    Raises:
        ConfigError: a model :func:`check_inductive` refuses, or an unknown ``input_fill``.
    """
    if input_fill not in INPUT_FILLS:
        raise ConfigError(f"unknown input_fill {input_fill!r}; choose from {INPUT_FILLS}")
    forecaster = HeldOutForecaster.build(config, hidden, device)
    assert isinstance(forecaster, HeldOutForecaster)
    check_inductive(config.model, model_spec(hidden, forecaster.protocol), config.hparams)
    inner = forecaster.model
    held = split.node_mask(hidden.num_nodes)
    if input_fill == "idw":
        forecaster.filler = IDWFill(hidden.graph, held, input_drop, idw_power)
    else:
        forecaster.model = NodeDropout(inner, input_drop, ~held).to(forecaster.device)
    try:
        summary = forecaster.fit(hidden, config.train)
    finally:
        forecaster.model = inner
    inner.eval()
    return forecaster, summary


def heldout_run(
    dataset: str,
    model: str,
    *,
    held_out: float | Sequence[str] | str = 0.2,
    split_method: str = "random",
    split_seed: int = 0,
    input_drop: float = 0.5,
    input_fill: str = "idw",
    idw_k: int | None = None,
    idw_power: float = 2.0,
    hparams: dict[str, Any] | None = None,
    protocol_overrides: dict[str, Any] | None = None,
    train: TrainConfig | None = None,
    seed: int = 0,
    data_dir: str | Path | None = None,
    data: SpatioTemporalData | None = None,
    device: str = "cpu",
    out: str | Path | None = None,
) -> HeldOutResult:
    """Train ``model`` on the observed stations and score it at held-out ones against IDW
    (see the module docstring for the protocol).

    Args:
        dataset: registered dataset (or the name of ``data``).
        model: registered model name (must pass :func:`check_inductive`).
        held_out: a fraction of the stations in (0, 1), or the ids to hold out.
        split_method: ``"random"`` or ``"block"`` (:func:`~stgraph.data.nodesplit.split_nodes`).
        split_seed: seed of the node split.
        input_drop: share of training stations whose inputs are hidden per window.
        input_fill: what a hidden input is: ``"idw"`` (:class:`IDWFill`, all visible
            stations) or ``"zero"`` (:class:`NodeDropout`); see :func:`fit_heldout`.
        idw_k, idw_power: IDW baselines over the ``k`` nearest observed stations (``None`` =
            all); the IDW power (baselines and input fill).
        hparams, protocol_overrides, train, seed: as :meth:`RunConfig.create`.
        data_dir, data, device: data root; an already loaded series; where the model runs.
        out: folder to write ``heldout.json`` (metrics, split, settings) and ``table.txt``.

    Raises:
        ConfigError / ValueError: an invalid setting, a model that cannot generalise to
            unseen nodes, an unknown node id, or an empty side of the split.
    """
    data = load_data(dataset, data_dir, data)
    if data.temporal_edges is not None:
        raise ConfigError(f"{data.name}: held-out stations need a static graph")
    config = RunConfig.create(
        data.name, model, hparams=hparams, protocol=protocol_overrides, train=train, seed=seed
    )
    if config.train.node_batch is not None:
        raise ConfigError("held-out runs train on the full graph; leave train.node_batch unset")
    by_ids = not isinstance(held_out, int | float)
    if isinstance(held_out, int | float):
        split = split_nodes(data.graph, fraction=held_out, method=split_method, seed=split_seed)
    else:
        split = split_nodes(data.graph, nodes=[held_out] if isinstance(held_out, str) else held_out)
    hidden = hide_nodes(data, split)
    forecaster, summary = fit_heldout(
        config, hidden, split, input_drop, device, input_fill, idw_power
    )
    protocol = forecaster.protocol
    test = protocol.windows(hidden, "test")
    mask = split.node_mask(data.num_nodes)
    windows = HeldOutWindows(data, test.starts, protocol.lookback, protocol.horizon, mask)
    methods = {model: forecaster.predict}
    methods |= IDWBaselines(data, hidden, protocol, split, idw_power, idw_k).methods()
    results = {
        k: evaluate_forecaster(f, windows, config.train.batch_size) for k, f in methods.items()
    }
    if not mape_is_meaningful(hidden, protocol):
        results = {k: drop_mape(v) for k, v in results.items()}
    metrics = {
        "dataset": data.name,
        "model": model,
        "split": "test",
        "held_out": len(split.held_out),
        "observed": len(split.observed),
        "settings": {
            "split_method": "ids" if by_ids else split_method,
            "split_seed": split_seed,
            "input_drop": input_drop,
            "input_fill": input_fill,
            "idw_k": idw_k,
            "idw_power": idw_power,
        },
        "config": config.to_dict(),
        "train": {k: summary[k] for k in ("epochs", "best_epoch", "cpu_seconds")},
        "results": results,
        "nodes": split.to_dict(),
    }
    table = metrics_table(results, protocol.horizon, data.freq)
    if out is not None:
        (folder := Path(out)).mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / "heldout.json", json.dumps(metrics, indent=2) + "\n")
        atomic_write_text(folder / "table.txt", table + "\n")
    return HeldOutResult(metrics, split, table)
