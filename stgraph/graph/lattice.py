"""Public home of the lattice API (implemented in :mod:`stgraph.graph.builders.lattice`)."""

from stgraph.graph.builders.lattice import (
    CENTRE,
    OFFSETS,
    grid_to_nodes,
    lattice_graph,
    lattice_offsets,
    lattice_positions,
    nodes_to_grid,
)
from stgraph.graph.geo import GRID_CRS

__all__ = [
    "CENTRE",
    "GRID_CRS",
    "OFFSETS",
    "grid_to_nodes",
    "lattice_graph",
    "lattice_offsets",
    "lattice_positions",
    "nodes_to_grid",
]
