r"""Held-out stations (kriging / inductive forecasting): train on some stations, forecast at
stations never seen.

The split is by node as well as by time. The graph is the one of *all* stations (the
loader builds it from every station's coordinates, new ones included, as a user adding a
station would), the held-out stations' values are hidden (:func:`~stgraph.data.nodesplit.
hide_nodes`), so the scaler fit, the model inputs and the training loss never see them.

To make the model learn to infer a station from its neighbours, :class:`NodeDropout` zeroes
the inputs of a random subset of the training stations at every training step while their
targets stay in the loss (the masking IGNNK trains with: Wu et al., *Inductive Graph Neural
Networks for Spatiotemporal Kriging*, AAAI 2021; a missing input is 0 after scaling, the
project's missing-value rule). Early stopping uses the ordinary validation windows (the
training stations, inputs visible): the held-out stations take no part in any choice.

At test time the held-out stations' inputs are hidden and the metrics cover the held-out
stations only (:class:`HeldOutWindows`). Baselines at the held-out stations, by
inverse-distance weighting (:mod:`stgraph.graph.idw`, power 2 on great-circle distances) of
the observed stations':

- ``idw_last_value``: last observed input values (a forecast with the model's information);
- ``idw_climatology``: seasonal climatology of the training split
  (:class:`~stgraph.engine.baselines.HistoricalAverage`);
- ``idw_truth (oracle)``: true values at the target times: spatial interpolation with the
  neighbours' future truth, information no forecast has; an oracle reference.

Models with per-node parameters (node embeddings, adaptive adjacencies, per-node norms) or
that ignore the graph cannot say anything about a node they never saw; :func:`check_inductive`
refuses them.
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
from stgraph.graph.idw import idw_interpolate, station_distances
from stgraph.models import ModelSpec, build_model, get_model

#: names of the baseline rows, in table order
IDW_ROWS = ("idw_last_value", "idw_climatology", "idw_truth (oracle)")


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
        kw = dict(hparams or {})
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


class NodeDropout(nn.Module):
    r"""Wraps a model; in train mode only, zeroes the inputs of a random share of the
    eligible nodes, independently per window (IGNNK-style masking, Wu et al., AAAI 2021), so
    the model learns to forecast a node from its neighbours. In eval mode it is the model.

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

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None,
        covariates: Tensor,
        **kw: Any,
    ) -> Tensor:
        """Run the model, with dropped nodes' inputs zeroed in train mode."""
        if self.training and self.rate > 0:
            b, _, n, _ = x.shape
            eligible = self.get_buffer("eligible")
            drop = (torch.rand(b, 1, n, 1, device=x.device) < self.rate) & eligible.view(1, 1, n, 1)
            x = x.masked_fill(drop, 0.0)
        return self.model(x, edge_index, edge_weight, covariates, **kw)

    def extra_repr(self) -> str:
        return f"rate={self.rate}"


class HeldOutWindows(WindowDataset):
    """Windows whose inputs hide the held-out nodes (``x_mask`` False, value 0) and whose
    target mask keeps only them: masked metrics over these windows score the held-out nodes.

    Args:
        data: the full series (true values at every node).
        starts, lookback, horizon: as :class:`~stgraph.data.windows.WindowDataset`.
        held_out: ``True`` at held-out node positions.

    Shapes:
        held_out: [N] bool
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
        """The windows at ``positions`` with the held-out inputs hidden, targets kept at the
        held-out nodes only."""
        b = super().batch(positions)
        x_mask = b.x_mask & ~self.held_out
        x = torch.where(x_mask, b.x, torch.zeros((), dtype=b.x.dtype))
        return dataclasses.replace(b, x=x, x_mask=x_mask, y_mask=b.y_mask & self.held_out)


class IDWBaselines:
    """The three IDW rows of the module docstring, as ``batch -> [B, H, N, F]`` functions
    (values at the held-out nodes; the other nodes are not scored and hold 0).

    Args:
        data: the full series (the oracle reads the observed stations' true targets).
        hidden: the series with the held-out nodes hidden (fits the climatology).
        protocol: the fitted protocol.
        split: the node split.
        power: IDW power.
        k: the ``k`` nearest observed stations (``None`` = all).
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
        self.src, self.dst = list(split.observed_index), list(split.held_out_index)
        self.dist = station_distances(data.graph, self.dst, self.src)
        self.power, self.k = power, k
        self.data = data
        self.last = LastValue().fit(hidden, protocol)
        self.clim = HistoricalAverage().fit(hidden, protocol)
        assert protocol.bounds is not None
        self.seen = hidden.mask[: protocol.bounds.train_end].any(0)  # [N, F]

    def _spread(self, values: Tensor, mask: Tensor) -> Tensor:
        """IDW from the observed nodes to the held-out nodes; ``[..., N, F]`` in and out."""
        est, _ = idw_interpolate(
            values[..., self.src, :], mask[..., self.src, :], self.dist, self.power, self.k
        )
        out = torch.zeros_like(values)
        out[..., self.dst, :] = est
        return out

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
) -> tuple[Forecaster, dict[str, Any]]:
    """Fit the protocol (scaler) and train ``config``'s model on ``hidden`` (the series with
    the held-out nodes hidden, :func:`~stgraph.data.nodesplit.hide_nodes`), with
    :class:`NodeDropout` on the observed nodes' inputs during training.

    Returns:
        ``(forecaster, trainer summary)``; the forecaster holds the bare model, in eval mode.

    Raises:
        ConfigError: the model cannot forecast at unseen nodes (:func:`check_inductive`).
    """
    forecaster = Forecaster.build(config, hidden, device)
    check_inductive(config.model, model_spec(hidden, forecaster.protocol), config.hparams)
    inner = forecaster.model
    eligible = ~split.node_mask(hidden.num_nodes)
    forecaster.model = NodeDropout(inner, input_drop, eligible).to(forecaster.device)
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
        split_method: ``"random"`` or ``"block"`` (see :func:`~stgraph.data.nodesplit.
            split_nodes`), with a fraction.
        split_seed: seed of the node split.
        input_drop: share of training stations whose inputs :class:`NodeDropout` zeroes per
            window.
        idw_k: IDW over the ``k`` nearest observed stations (``None`` = all).
        idw_power: IDW power.
        hparams, protocol_overrides, train, seed: as :meth:`RunConfig.create`.
        data_dir: data root; data: an already loaded series.
        device: where the model runs.
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
    forecaster, summary = fit_heldout(config, hidden, split, input_drop, device)
    protocol = forecaster.protocol
    test = protocol.windows(hidden, "test")
    mask = split.node_mask(data.num_nodes)
    windows = HeldOutWindows(data, test.starts, protocol.lookback, protocol.horizon, mask)
    bs = config.train.batch_size
    results = {model: evaluate_forecaster(forecaster.predict, windows, bs)}
    idw = IDWBaselines(data, hidden, protocol, split, idw_power, idw_k)
    for name, fn in idw.methods().items():
        results[name] = evaluate_forecaster(fn, windows, bs)
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
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / "heldout.json", json.dumps(metrics, indent=2) + "\n")
        atomic_write_text(folder / "table.txt", table + "\n")
    return HeldOutResult(metrics, split, table)
