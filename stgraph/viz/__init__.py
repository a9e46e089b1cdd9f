"""Plots: sensor graphs on their coordinates."""

from stgraph.viz.graph import graph_segments, plot_graph, save_figure

__all__ = ["graph_segments", "plot_graph", "save_figure"]
