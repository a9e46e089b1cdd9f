"""ConvLSTM on a lattice: edge offsets from the edge list, 3x3 receptive field, pairing."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from stgraph.graph.lattice import lattice_graph, lattice_offsets
from stgraph.models import ModelSpec, build_model, check_pairing
from stgraph.models.convlstm import LatticeConv3x3, lattice_edge_types
from tests.nn.conftest import random_graph


@pytest.mark.parametrize("neighbours", [4, 8])
@pytest.mark.parametrize("shape", [(4, 5), (3, 3), (1, 6), (2, 7), (10, 20)])
def test_edge_offsets_match_the_lattice_builder(shape, neighbours):
    g = lattice_graph(shape, neighbours=neighbours)
    assert torch.equal(lattice_edge_types(g.edge_index, g.num_nodes), lattice_offsets(g))


def test_edge_offsets_of_masked_rook_lattices_match_the_builder():
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # isolated cells
        graphs = [lattice_graph((6, 9), mask=rng.random((6, 9)) < 0.2) for _ in range(10)]
    for g in graphs:
        assert torch.equal(lattice_edge_types(g.edge_index, g.num_nodes), lattice_offsets(g))


def test_a_graph_that_is_not_a_lattice_is_refused():
    ei, _ = random_graph(12, p=0.9)
    with pytest.raises(ValueError, match="not a lattice"):
        lattice_edge_types(ei, 12)
    with pytest.raises(ValueError, match="grid"):
        check_pairing("convlstm", temporal_edges=False, lattice=False)
    check_pairing("convlstm", temporal_edges=False, lattice=True)


def test_the_lattice_conv_is_a_zero_padded_conv2d():
    """On a queen lattice all nine kernel entries have edges (a rook lattice has no
    diagonals: there the kernel is the 5-point cross)."""
    torch.manual_seed(0)
    layer = LatticeConv3x3(3, 4)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    with torch.no_grad():  # LatticeConv weight [9, in, out] in kernel order
        conv.weight.copy_(layer.weight.reshape(3, 3, 3, 4).permute(3, 2, 0, 1))
        conv.bias.copy_(layer.bias)
    g, x = lattice_graph((5, 6), neighbours=8), torch.randn(2, 30, 3)
    ref = conv(x.reshape(2, 5, 6, 3).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).reshape(2, 30, 4)
    assert torch.allclose(layer(x, g.edge_index), ref, atol=1e-5)


def test_one_cell_reaches_exactly_two_cells_away_in_one_encoder_and_one_forecast_step():
    """With one input step and one forecast step, a change in the centre cell passes one
    3x3 convolution in the encoder and one in the forecaster: the forecast changes exactly
    in the 5x5 block around it (queen lattice; on a rook lattice, the cells within two rook
    moves)."""
    torch.manual_seed(0)
    g = lattice_graph((9, 9), neighbours=8)
    model = build_model("convlstm", ModelSpec(1, 1, 1, 1, 81), hidden=8, layers=1).eval()
    x, cov = torch.randn(1, 1, 81, 1), torch.rand(1, 2, 1, 2)
    bumped = x.clone()
    bumped[0, 0, 4 * 9 + 4] += 1.0
    with torch.no_grad():
        diff = (model(bumped, g.edge_index, None, cov) - model(x, g.edge_index, None, cov)).abs()
    changed = (diff.reshape(9, 9) > 1e-7).numpy()
    r, c = np.mgrid[:9, :9]
    assert (changed == (np.maximum(abs(r - 4), abs(c - 4)) <= 2)).all()
