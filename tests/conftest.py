"""Shared fixtures: a small synthetic dataset and the real-data root."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from stgraph.data import SpatioTemporalData
from stgraph.data.io.synthetic import SyntheticTrafficConfig, generate_synthetic_traffic
from stgraph.graph.lattice import grid_to_nodes, lattice_graph

THREADS = max(1, min(2, os.cpu_count() or 1))
torch.set_num_threads(THREADS)


@pytest.fixture(autouse=True)
def _pinned_threads():
    """Every test starts and ends with the same pinned thread count (a CLI test that chose
    automatic threads must not change the arithmetic of the tests after it)."""
    yield
    from stgraph import _threads

    _threads._auto = False
    torch.set_num_threads(THREADS)


@pytest.fixture(scope="session")
def tiny_traffic():
    """A 3-day, 28-sensor synthetic-traffic series (5-min steps, T = 864)."""
    return generate_synthetic_traffic(SyntheticTrafficConfig(grid=(2, 3), days=3, seed=1))


@pytest.fixture(scope="session")
def tiny_lattice():
    """A 4 x 5 lattice (rook neighbours, node ids ``r<row>_c<col>``) of a wave travelling
    across the grid on top of a daily cycle, plus noise; hourly steps, 20 days (T = 480)."""
    rng = np.random.default_rng(1)
    t, r, c = np.ogrid[:480, :4, :5]
    field = 10 + 3 * np.sin(2 * np.pi * t / 24) + 2 * np.sin(2 * np.pi * (t / 12 - c / 5 - r / 8))
    field = (field + 0.3 * rng.standard_normal(field.shape)).astype(np.float32)
    ts = pd.date_range("2024-01-01", periods=480, freq="h")
    graph = lattice_graph((4, 5), name="tiny-lattice")
    return SpatioTemporalData(grid_to_nodes(field), None, ts, graph, name="tiny-lattice")


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real-data root from ``$STGRAPH_DATA``. Skips when unset, unless
    ``STGRAPH_REQUIRE_DATA=1`` (as in CI), where a missing root is a failure."""
    root = os.environ.get("STGRAPH_DATA")
    if root and Path(root).is_dir():
        return Path(root)
    if os.environ.get("STGRAPH_REQUIRE_DATA") == "1":
        pytest.fail(f"STGRAPH_REQUIRE_DATA=1 but STGRAPH_DATA={root!r} is not a folder")
    pytest.skip("real data not available (set STGRAPH_DATA)")
