"""Graph builders: points, distance tables, road networks, polygons and grids -> SensorGraph.

Importing this package registers every builder; call them through
:func:`stgraph.graph.build` or directly.
"""

from stgraph.graph.builders import lattice
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
    "get_builder",
    "lattice",
    "list_builders",
    "register_builder",
]
