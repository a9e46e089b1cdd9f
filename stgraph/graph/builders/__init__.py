"""Graph builders: points, distance tables, road networks, polygons and grids -> SensorGraph.

Importing this package registers every builder; call them through
:func:`stgraph.graph.build` or directly.
"""

from stgraph.graph.builders import delaunay, lattice, points, polygons, roads, table
from stgraph.graph.builders._common import IsolatedNodesWarning
from stgraph.graph.builders.registry import (
    BuilderEntry,
    build,
    get_builder,
    list_builders,
    register_builder,
)

__all__ = [
    "BuilderEntry",
    "IsolatedNodesWarning",
    "build",
    "delaunay",
    "get_builder",
    "lattice",
    "list_builders",
    "points",
    "polygons",
    "register_builder",
    "roads",
    "table",
]
