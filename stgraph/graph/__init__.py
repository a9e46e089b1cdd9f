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
from stgraph.graph.partition import (
    Halo,
    edge_cut,
    k_hop_halo,
    parts_of,
    random_node_batches,
    spectral_partition,
)
from stgraph.graph.sensor_graph import SensorGraph

__all__ = [
    "BuilderEntry",
    "Halo",
    "IsolatedNodesWarning",
    "SensorGraph",
    "add_self_loops",
    "build",
    "edge_cut",
    "get_builder",
    "grid_to_nodes",
    "k_hop_halo",
    "lattice_graph",
    "lattice_offsets",
    "list_builders",
    "nodes_to_grid",
    "normalize",
    "parts_of",
    "random_node_batches",
    "register_builder",
    "remove_self_loops",
    "spectral_partition",
]
