"""ST-ResNet: closeness/period/trend lags from the lookback, receptive field, pairing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stgraph.graph.lattice import lattice_graph
from stgraph.models import ModelSpec, build_model, check_pairing
from stgraph.models.st_resnet import st_resnet_lags


def test_lags_are_a_day_and_a_week_when_the_lookback_holds_them():
    # hourly data, two weeks of lookback: the paper's intervals
    assert st_resnet_lags(336, 24, 3, 2, 1) == ([3, 2, 1], [48, 24], [168])
    # a 12-step window of 5-minute data: derived from the window, trend reaches step 1
    assert st_resnet_lags(12, 288, 3, 1, 1) == ([3, 2, 1], [6], [12])
    assert st_resnet_lags(12, 288, 2, 2, 2) == ([2, 1], [6, 3], [12, 6])
    with pytest.raises(ValueError, match="closeness"):
        st_resnet_lags(12, 288, 13, 1, 1)


def test_pairing_refuses_data_that_is_not_a_lattice():
    with pytest.raises(ValueError, match="grid"):
        check_pairing("st-resnet", temporal_edges=False, lattice=False)


@pytest.mark.parametrize(("units", "neighbours"), [(0, 8), (1, 8), (1, 4)])
def test_one_cell_reaches_exactly_as_far_as_the_convolutions(units, neighbours):
    """The last input frame is a closeness frame: a change in one cell passes Conv1,
    ``units`` residual units (two 3x3 convolutions each) and Conv2, so the forecast changes
    exactly within ``2 + 2 * units`` moves of it: king moves on a queen lattice (3x3
    kernels), rook moves on a rook lattice (5-point cross kernels)."""
    torch.manual_seed(0)
    g = lattice_graph((11, 11), neighbours=neighbours)
    model = build_model("st-resnet", ModelSpec(1, 1, 12, 2, 121), dim=8, units=units).eval()
    x, cov = torch.randn(1, 12, 121, 1), torch.rand(1, 14, 1, 2)
    bumped = x.clone()
    bumped[0, -1, 5 * 11 + 5] += 1.0
    with torch.no_grad():
        diff = (model(bumped, g.edge_index, None, cov) - model(x, g.edge_index, None, cov)).abs()
    changed = (diff.amax(dim=(0, 1, 3)).reshape(11, 11) > 1e-7).numpy()
    r, c = np.mgrid[:11, :11]
    dist = np.maximum(abs(r - 5), abs(c - 5)) if neighbours == 8 else abs(r - 5) + abs(c - 5)
    assert (changed == (dist <= 2 + 2 * units)).all()
