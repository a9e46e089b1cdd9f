"""Graphs and geography: :class:`SensorGraph`, normalisations and graph builders."""

from stgraph.graph.normalization import add_self_loops, normalize, remove_self_loops
from stgraph.graph.sensor_graph import SensorGraph

__all__ = ["SensorGraph", "add_self_loops", "normalize", "remove_self_loops"]
