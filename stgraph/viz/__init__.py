"""Plots of graphs and runs, and the HTML report of a run.

Array-level functions return a matplotlib ``Figure`` (drawn without pyplot, so no window
opens; save it with :func:`save_figure`); :func:`plot_run` and :func:`write_report` work on a
run directory.
"""

from stgraph.nn.attention.record import AttentionRecord, record_attention
from stgraph.viz.attention import plot_attention
from stgraph.viz.errors import lattice_image, methods_of, plot_error_map, plot_horizon_errors
from stgraph.viz.forecast import horizon_series, plot_forecast
from stgraph.viz.graph import graph_segments, plot_graph, save_figure
from stgraph.viz.report import write_report
from stgraph.viz.run import plot_run
from stgraph.viz.training import plot_training, read_history

__all__ = [
    "AttentionRecord",
    "graph_segments",
    "horizon_series",
    "lattice_image",
    "methods_of",
    "plot_attention",
    "plot_error_map",
    "plot_forecast",
    "plot_graph",
    "plot_horizon_errors",
    "plot_run",
    "plot_training",
    "read_history",
    "record_attention",
    "save_figure",
    "write_report",
]
