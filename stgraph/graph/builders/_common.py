"""Shared steps of the builders: symmetric edge lists, weighting, the isolated-node warning."""

from __future__ import annotations

import warnings

import numpy as np

from stgraph.graph.builders._inputs import Points
from stgraph.graph.kernels import Weighting, edge_weights
from stgraph.graph.sensor_graph import SensorGraph


class IsolatedNodesWarning(UserWarning):
    """A built graph has nodes without any edge (other than a self-loop).

    Such nodes receive no message from a graph layer; their forecast relies on their own
    history only. Silence it with ``warnings.filterwarnings("ignore",
    category=IsolatedNodesWarning)`` when that is intended (e.g. islands, a lake cell).
    """


def finalize(graph: SensorGraph) -> SensorGraph:
    """Return ``graph`` after warning (:class:`IsolatedNodesWarning`) about isolated nodes,
    naming up to five of them."""
    lonely = graph.isolated_nodes()
    if lonely:
        shown = ", ".join(repr(v) for v in lonely[:5])
        more = f" and {len(lonely) - 5} more" if len(lonely) > 5 else ""
        warnings.warn(
            f"{graph.name}: {len(lonely)} of {graph.num_nodes} nodes have no edge: {shown}{more}",
            IsolatedNodesWarning,
            stacklevel=3,
        )
    return graph


def edges_to_graph(
    pts: Points,
    src: np.ndarray,
    dst: np.ndarray,
    dist: np.ndarray,
    *,
    weight: Weighting,
    sigma: float | None,
    directed: bool,
    name: str,
) -> SensorGraph:
    """Weigh edge lengths (:func:`stgraph.graph.kernels.edge_weights`) and wrap them with the
    points' ids and coordinates in a SensorGraph; isolated nodes warn. A Gaussian ``sigma``
    defaults to the mean edge length, a local scale that puts the typical edge at
    :math:`e^{-1}`.

    Shapes:
        src, dst, dist: [E] -> graph with len(pts) nodes and E edges
    """
    if weight == "gaussian" and sigma is None:
        sigma = float(dist.mean()) if dist.size and dist.mean() > 0 else 1.0
    w = edge_weights(dist, weight, sigma)
    return finalize(
        SensorGraph(
            pts.ids,
            np.vstack([src, dst]),
            w,
            coords=pts.xy,
            crs=pts.crs,
            directed=directed,
            name=name,
        )
    )


def both_ways(
    src: np.ndarray, dst: np.ndarray, dist: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union of the edges and their reverses, each ordered pair once (the distance of a pair
    is taken as symmetric).

    Shapes:
        src, dst, dist: [E] -> three [E'] arrays, E <= E' <= 2E
    """
    s, t, d = np.concatenate([src, dst]), np.concatenate([dst, src]), np.concatenate([dist, dist])
    _, first = np.unique(s * n + t, return_index=True)
    return s[first], t[first], d[first]
