"""Node-subgraph batching: each training step runs the model on a node batch plus its k-hop
halo and takes the loss on the batch's own (core) nodes only; prediction runs part by part
over a partition of all nodes and assembles the core outputs of every part.

For a model whose output at a node depends on at most ``halo_hops`` hops of input (its
receptive field, normalisation degrees included), the assembled prediction equals the
full-graph one, so metrics accumulated over it (exact sums and counts) equal full-graph
metrics. With a smaller halo, training and evaluation see a truncated neighbourhood at the
edge of each part (the Cluster-GCN approximation).

Halos follow the edges in both directions, which covers models that propagate against the
edges too (bidirectional diffusion).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from stgraph.graph.partition import (
    Halo,
    k_hop_halo,
    parts_of,
    random_node_batches,
    spectral_partition,
)
from stgraph.graph.sensor_graph import SensorGraph
from stgraph.models.registry import Capabilities

if TYPE_CHECKING:
    from stgraph.data.spatiotemporal import SpatioTemporalData
    from stgraph.engine.config import TrainConfig

NODE_PARTITIONS = ("partition", "random")
DEFAULT_HALO_HOPS = 2


def node_batching_refusal(model_cls: type[nn.Module]) -> str:
    """Why a model class cannot train on node subgraphs (``""`` when it can), from its
    declared :class:`~stgraph.models.registry.Capabilities`."""
    caps = getattr(model_cls, "capabilities", Capabilities())
    return caps.node_batching_refusal() if isinstance(caps, Capabilities) else ""


def node_batching_error(name: str, model_cls: type[nn.Module], temporal_edges: bool = False) -> str:
    """Why node batching cannot run for model ``name`` (class ``model_cls``) on this data,
    as a message naming the model and the reason; ``""`` when it can."""
    reason = node_batching_refusal(model_cls)
    if reason:
        return (
            f"train.node_batch: model {name!r} cannot train on node subgraphs: {reason}; "
            "leave node_batch unset (full-graph steps) or choose a model without per-node "
            "state"
        )
    if temporal_edges:
        return (
            "train.node_batch: node batching needs one static graph, but the data has "
            "time-varying edges"
        )
    return ""


def check_node_batching(name: str, model_cls: type[nn.Module], temporal_edges: bool) -> None:
    """Raise ``ValueError`` with :func:`node_batching_error`'s message when there is one."""
    message = node_batching_error(name, model_cls, temporal_edges)
    if message:
        raise ValueError(message)


def receptive_field(model: nn.Module) -> int | None:
    """Hops of input the model's output at a node depends on, when the model states it as
    a ``receptive_field`` attribute or method (an int; for symmetric-normalised convolutions
    it includes the ring whose degrees the outermost layer reads); ``None`` otherwise."""
    value = getattr(model, "receptive_field", None)
    value = value() if callable(value) else value
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def slice_nodes(x: Tensor, nodes: Tensor) -> Tensor:
    """``x`` restricted to ``nodes`` along the node axis (dim 2); a broadcast node axis of
    size 1 (shared covariates) is kept.

    Shapes:
        x: [B, T, N or 1, C], nodes: [M] -> [B, T, M or 1, C]
    """
    return x if x.shape[2] == 1 else x[:, :, nodes]


class NodeBatcher:
    """Node batches of one static graph and their k-hop halo subgraphs. Training draws
    from :meth:`stream`; prediction (:meth:`assemble`) always runs over the spectral
    :attr:`parts`, which have the smallest halos.

    Args:
        edge_index: the graph's source/target indices.
        edge_weight: its weights.
        num_nodes: ``N``.
        batch_size: core nodes per batch (the partition has ``ceil(N / batch_size)``
            balanced parts).
        partition: ``"partition"`` (spectral parts, drawn in a random order each cycle) or
            ``"random"`` (a fresh random split of the nodes each cycle).
        hops: halo hops.
        seed: seed of the spectral partition.

    Shapes:
        edge_index: [2, E], edge_weight: [E]
    """

    def __init__(
        self,
        edge_index: Tensor,
        edge_weight: Tensor | None,
        num_nodes: int,
        batch_size: int,
        partition: str = "partition",
        hops: int = DEFAULT_HALO_HOPS,
        seed: int = 0,
    ) -> None:
        if partition not in NODE_PARTITIONS:
            raise ValueError(f"partition {partition!r} is not one of {NODE_PARTITIONS}")
        self.edge_index, self.edge_weight = edge_index.cpu(), edge_weight
        self.num_nodes, self.batch_size = num_nodes, min(batch_size, max(num_nodes, 1))
        self.partition, self.hops, self.seed = partition, hops, seed
        self.device = torch.device("cpu")

    def to(self, device: torch.device | str) -> NodeBatcher:
        """Hand out halos on ``device`` (the cached part halos move once, so a model's
        cached graph operators keep hitting)."""
        self.device = torch.device(device)
        if "part_halos" in self.__dict__:
            self.part_halos = [h.to(self.device) for h in self.part_halos]
        return self

    @classmethod
    def for_config(
        cls, graph: SensorGraph, cfg: TrainConfig, model: nn.Module
    ) -> NodeBatcher | None:
        """The batcher a :class:`~stgraph.engine.config.TrainConfig` asks for (``None``
        without ``node_batch``); the halo is ``cfg.halo_hops``, else the model's
        :func:`receptive_field`, else :data:`DEFAULT_HALO_HOPS`."""
        if cfg.node_batch is None:
            return None
        hops = cfg.halo_hops
        if hops is None:
            hops = receptive_field(model)
        hops = DEFAULT_HALO_HOPS if hops is None else hops
        edges = (graph.edge_index, graph.edge_weight, graph.num_nodes)
        return cls(*edges, cfg.node_batch, cfg.node_partition, hops, cfg.seed)

    def same_as(self, other: NodeBatcher) -> bool:
        """Whether ``other`` draws the same batches (same graph and settings)."""
        mine = (self.batch_size, self.partition, self.hops, self.seed, self.num_nodes)
        theirs = (other.batch_size, other.partition, other.hops, other.seed, other.num_nodes)
        return mine == theirs and torch.equal(self.edge_index, other.edge_index)

    @cached_property
    def parts(self) -> list[Tensor]:
        """The balanced spectral partition (computed once), as node lists."""
        p = math.ceil(self.num_nodes / self.batch_size)
        assignment = spectral_partition(self.edge_index, self.num_nodes, p, seed=self.seed)
        return parts_of(assignment, p)

    @cached_property
    def part_halos(self) -> list[Halo]:
        """The halo subgraph of every part of :attr:`parts` (computed once)."""
        return [self.halo(nodes) for nodes in self.parts]

    def halo(self, nodes: Tensor) -> Halo:
        """``nodes`` with their ``hops``-hop halo, following edges both ways, on
        :attr:`device`."""
        halo = k_hop_halo(
            nodes, self.edge_index, self.hops, self.num_nodes, self.edge_weight, flow="both"
        )
        return halo.to(self.device)

    def stream(self, generator: torch.Generator) -> Iterator[Halo]:
        """Endless node batches: cycle after cycle, every node is a core node exactly once
        per cycle (random splits or the parts in a random order, drawn from
        ``generator``)."""
        while True:
            if self.partition == "random":
                for nodes in random_node_batches(self.num_nodes, self.batch_size, generator):
                    yield self.halo(nodes)
            else:
                halos = self.part_halos
                for i in torch.randperm(len(halos), generator=generator).tolist():
                    yield halos[i]

    def assemble(self, forward: Callable[[Halo], Tensor], like: Tensor) -> Tensor:
        """Run ``forward`` on every part's halo and gather the core outputs into one tensor
        over all nodes (each node's output comes from the part it is a core node of).

        Args:
            forward: ``halo -> output`` over the halo's nodes.
            like: any tensor with the batch's ``[B, *, N, *]`` layout (sets ``B``).

        Shapes:
            forward output: [B, H, M, F] -> [B, H, N, F]
        """
        out: Tensor | None = None
        for halo in self.part_halos:
            part = forward(halo)
            if out is None:
                shape = (like.shape[0], part.shape[1], self.num_nodes, part.shape[3])
                out = part.new_full(shape, float("nan"))
            out[:, :, halo.nodes[halo.core_pos].to(part.device)] = part[:, :, halo.core_pos]
        assert out is not None, "a graph with no nodes has no parts"
        return out


def core_only(halo: Halo, out: Tensor, target: Tensor, mask: Tensor) -> tuple[Tensor, ...]:
    """The halo's core nodes of an output over the halo and of a target and mask over all
    nodes (what a node batch's loss compares).

    Shapes:
        out: [B, H, M, F], target, mask: [B, H, N, F] -> three [B, H, C, F]
    """
    pos = halo.core_pos.to(out.device)
    core = halo.nodes[halo.core_pos].to(target.device)
    return out[:, :, pos], target[:, :, core], mask[:, :, core]


def trainer_batcher(
    forecaster: Any, data: SpatioTemporalData, cfg: TrainConfig
) -> NodeBatcher | None:
    """The batcher a trainer of ``forecaster`` on ``data`` with settings ``cfg`` uses
    (``None`` for full-graph steps): the forecaster's own when it draws the same batches
    (its partition is then computed once), else a new one.

    Raises:
        ValueError: the model needs all nodes or the graph varies over time (see
            :func:`check_node_batching`).
    """
    if cfg.node_batch is None:
        return None
    model = forecaster.model
    name = getattr(getattr(forecaster, "config", None), "model", type(model).__name__)
    check_node_batching(name, type(model), data.temporal_edges is not None)
    mine = NodeBatcher.for_config(data.graph, cfg, model)
    theirs = getattr(forecaster, "node_batcher", None)
    assert mine is not None
    if isinstance(theirs, NodeBatcher) and theirs.same_as(mine):
        return theirs
    return mine.to(getattr(forecaster, "device", "cpu"))
