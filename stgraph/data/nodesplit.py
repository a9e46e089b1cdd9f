"""Splits by node (hold stations out of training: kriging / inductive forecasting) and
hiding entries of a series (held-out nodes, imputation evaluation masks).

A node split complements the chronological split of the
:class:`~stgraph.data.protocol.Protocol`: the held-out nodes keep their place in the graph
(which is built from the coordinates of every station, new ones included, as a user adding
a station would build it), but their values are hidden by :func:`hide_nodes`, so the scaler
fit, the model inputs and the training loss never see them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.graph import SensorGraph

#: how held-out nodes are chosen from a fraction
SPLIT_METHODS = ("random", "block")


@dataclass(frozen=True)
class NodeSplit:
    """Held-out and observed nodes of a graph.

    Args:
        held_out: ids of the held-out nodes (in graph order).
        observed: ids of the other nodes (in graph order).
        held_out_index: positions of ``held_out`` in the graph.
        observed_index: positions of ``observed`` in the graph.
    """

    held_out: tuple[str, ...]
    observed: tuple[str, ...]
    held_out_index: tuple[int, ...]
    observed_index: tuple[int, ...]

    def node_mask(self, num_nodes: int) -> torch.Tensor:
        """``True`` at held-out node positions.

        Shapes:
            output: [N] bool
        """
        out = torch.zeros(num_nodes, dtype=torch.bool)
        out[list(self.held_out_index)] = True
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the two id lists."""
        return {"held_out": list(self.held_out), "observed": list(self.observed)}


def _from_positions(graph: SensorGraph, held: Sequence[int]) -> NodeSplit:
    chosen = set(int(i) for i in held)
    if not chosen:
        raise ValueError(f"{graph.name}: the node split holds out no node; hold out at least one")
    if len(chosen) == graph.num_nodes:
        raise ValueError(
            f"{graph.name}: the node split holds out all {graph.num_nodes} nodes; keep at least "
            "one observed"
        )
    ids = graph.node_ids
    h = tuple(i for i in range(graph.num_nodes) if i in chosen)
    o = tuple(i for i in range(graph.num_nodes) if i not in chosen)
    return NodeSplit(tuple(ids[i] for i in h), tuple(ids[i] for i in o), h, o)


def count_for(fraction: float, n: int) -> int:
    """Number of nodes :func:`split_nodes` holds out for ``fraction`` of ``n`` nodes:
    ``round(fraction * n)``, at least 1 and at most ``n - 1``."""
    return min(max(round(fraction * n), 1), n - 1) if n > 1 else 1


def split_nodes(
    graph: SensorGraph,
    *,
    nodes: Sequence[Any] | None = None,
    fraction: float | None = None,
    method: str = "random",
    seed: int = 0,
) -> NodeSplit:
    """Choose held-out nodes: by id, or a fraction of them.

    With ``fraction``, ``method="random"`` draws ``round(fraction * N)`` nodes uniformly
    (seeded); ``method="block"`` draws one centre node (seeded) and holds out it and its
    nearest nodes by coordinate distance (a contiguous region: a harder test, since the
    held-out nodes' nearest neighbours are held out too).

    Args:
        graph: the sensor graph of all nodes.
        nodes: ids of the nodes to hold out (exclusive with ``fraction``).
        fraction: share of the nodes to hold out, in (0, 1).
        method: one of :data:`SPLIT_METHODS` (with ``fraction``).
        seed: seed of the draw.

    Raises:
        ValueError: both or neither of ``nodes`` / ``fraction``, an unknown id (named), a
            fraction outside (0, 1), or a split with an empty side.
    """
    if (nodes is None) == (fraction is None):
        raise ValueError("give either nodes=[ids] or fraction=... to hold out, not both/neither")
    if nodes is not None:
        if isinstance(nodes, str):
            nodes = [nodes]
        unknown = [n for n in nodes if str(n) not in set(graph.node_ids)]
        if unknown:
            raise ValueError(
                f"{graph.name}: unknown node id(s) {unknown[:5]} to hold out; the graph has "
                f"{graph.num_nodes} nodes, e.g. {list(graph.node_ids[:3])}"
            )
        return _from_positions(graph, [graph.index_of(n) for n in nodes])
    assert fraction is not None
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1:
        raise ValueError(f"held-out fraction must be in (0, 1), got {fraction!r}")
    if method not in SPLIT_METHODS:
        raise ValueError(f"unknown node split method {method!r}; choose from {SPLIT_METHODS}")
    n = graph.num_nodes
    count = count_for(fraction, n)
    rng = np.random.default_rng(seed)
    if method == "random":
        return _from_positions(graph, rng.choice(n, size=count, replace=False).tolist())
    from stgraph.graph.idw import station_distances

    centre = int(rng.integers(n))
    dist = station_distances(graph, [centre], range(n))[0]
    return _from_positions(graph, np.argsort(dist, kind="stable")[:count].tolist())


def hide_entries(data: SpatioTemporalData, hidden: torch.Tensor) -> SpatioTemporalData:
    """``data`` with the ``hidden`` entries removed (``mask == False``, value 0); timestamps,
    graph, node table and covariates unchanged. Everything fitted or trained on the result
    (scaler, baselines, losses, imputers) never sees the hidden values.

    Shapes:
        hidden: [T, N, F] bool, or anything that broadcasts to it (e.g. [1, N, 1])
    """
    shape = tuple(data.values.shape)
    try:
        fits = torch.broadcast_shapes(hidden.shape, shape) == shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(
            f"{data.name}: mask of hidden entries has shape {tuple(hidden.shape)}, expected "
            f"{shape} (or one that broadcasts to it)"
        )
    mask = data.mask & ~hidden.bool()
    values = torch.where(mask, data.values, torch.zeros((), dtype=data.values.dtype))
    return SpatioTemporalData(
        values,
        mask,
        data.timestamps,
        data.graph,
        data.feature_names,
        data.nodes,
        data.covariates,
        data.covariate_names,
        data.name,
        data.units,
        data.temporal_edges,
        data.freq,
    )


def hide_nodes(data: SpatioTemporalData, split: NodeSplit) -> SpatioTemporalData:
    """``data`` with the held-out nodes' values hidden at every time step
    (:func:`hide_entries`).

    Shapes:
        values, mask: [T, N, F] -> [T, N, F]
    """
    return hide_entries(data, split.node_mask(data.num_nodes)[None, :, None])
