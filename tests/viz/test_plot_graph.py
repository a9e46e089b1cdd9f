"""plot_graph: one marker per node, one segment per connected pair, arrows for directed edges."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.quiver import Quiver

from stgraph.graph import SensorGraph, lattice_graph
from stgraph.viz import graph_segments, plot_graph, save_figure


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def directed_triangle() -> SensorGraph:
    return SensorGraph(
        ["a", "b", "c"],
        [[0, 1, 1, 2, 2], [1, 0, 2, 0, 2]],  # a<->b, b->c, c->a, and a self-loop on c
        [1.0, 0.5, 0.25, 1.0, 1.0],
        coords=[[-122.4, 37.7], [-122.3, 37.7], [-122.35, 37.8]],
        crs="EPSG:4326",
    )


def test_markers_segments_and_arrows_match_the_graph():
    g = directed_triangle()
    ax = plot_graph(g, values=np.array([1.0, np.nan, 3.0]))
    lines = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(lines) == 1 and len(lines[0].get_segments()) == 3  # a-b drawn once, no loop
    quivers = [c for c in ax.collections if isinstance(c, Quiver)]
    assert len(quivers) == 1 and quivers[0].N == 4  # one head per directed non-loop edge
    markers = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sum(len(m.get_offsets()) for m in markers) == 3  # 2 coloured + 1 hollow (NaN)
    assert ax.get_aspect() == pytest.approx(1 / np.cos(np.radians(37.7 + 0.1 / 3)))


def test_undirected_graphs_have_no_arrows_and_segments_carry_the_pair_weight():
    g = lattice_graph((3, 4), neighbours=8)
    segments, weight = graph_segments(g)
    assert len(segments) == g.num_edges // 2 and set(weight.tolist()) == {1.0}
    ax = plot_graph(g)
    assert not [c for c in ax.collections if isinstance(c, Quiver)]
    _, w = graph_segments(directed_triangle())
    assert sorted(w.tolist()) == [0.25, 1.0, 1.0]  # a-b keeps the larger of 1.0 and 0.5


def test_saving_writes_a_png_atomically(tmp_path):
    ax = plot_graph(directed_triangle(), values=[1.0, 2.0, 3.0], label="speed")
    out = save_figure(ax.figure, tmp_path / "figs" / "graph.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in out.parent.iterdir()] == ["graph.png"]  # no temporary left over


def test_plot_errors():
    with pytest.raises(ValueError, match="one entry per node \\(3\\)"):
        plot_graph(directed_triangle(), values=[1.0, 2.0])
    with pytest.raises(ValueError, match="no coordinates"):
        plot_graph(SensorGraph(["a", "b"], [[0], [1]]))
