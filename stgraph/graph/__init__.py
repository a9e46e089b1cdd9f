"""Graphs and geography: :class:`SensorGraph`, normalisations and graph builders."""

from stgraph.graph.builders import (
    BuilderEntry,
    IsolatedNodesWarning,
    build,
    get_builder,
    list_builders,
    register_builder,
)
from stgraph.graph.lattice import grid_to_nodes, lattice_graph, lattice_offsets, nodes_to_grid
from stgraph.graph.normalization import add_self_loops, normalize, remove_self_loops
from stgraph.graph.sensor_graph import SensorGraph

__all__ = [
    "BuilderEntry",
    "IsolatedNodesWarning",
    "SensorGraph",
    "add_self_loops",
    "build",
    "get_builder",
    "grid_to_nodes",
    "lattice_graph",
    "lattice_offsets",
    "list_builders",
    "nodes_to_grid",
    "normalize",
    "register_builder",
    "remove_self_loops",
]
