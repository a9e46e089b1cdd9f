"""Shared finishing steps of the builders: the isolated-node warning."""

from __future__ import annotations

import warnings

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
