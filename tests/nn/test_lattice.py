"""LatticeConv: a graph layer on the lattice graph reproduces torch.nn.Conv2d 3x3 exactly."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from stgraph.graph import IsolatedNodesWarning
from stgraph.graph.lattice import grid_to_nodes, lattice_graph, lattice_offsets, nodes_to_grid
from stgraph.nn.spatial.lattice import LatticeConv

H, W, FIN, FOUT = 5, 7, 3, 4


def conv_on_grid(conv: nn.Conv2d, grid: torch.Tensor) -> torch.Tensor:
    """Conv2d on [T, H, W, F] data, returned as [T, H, W, F_out]."""
    return conv(grid.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


def graph_layer_on_grid(layer, graph, grid, mask=None):
    x = grid_to_nodes(grid, mask)
    out = layer(x, graph.edge_index, graph.edge_weight, lattice_offsets(graph))
    return out, x


@pytest.mark.parametrize("seed", [0, 1])
def test_eight_neighbour_lattice_layer_equals_conv2d(seed):
    torch.manual_seed(seed)
    conv = nn.Conv2d(FIN, FOUT, 3, padding=1)
    layer = LatticeConv.from_conv2d(conv)
    graph = lattice_graph((H, W), neighbours=8)
    grid = torch.randn(2, H, W, FIN)
    out, _ = graph_layer_on_grid(layer, graph, grid)
    expected = grid_to_nodes(conv_on_grid(conv, grid))
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_four_neighbour_lattice_equals_conv2d_with_a_plus_shaped_kernel():
    torch.manual_seed(2)
    conv = nn.Conv2d(FIN, FOUT, 3, padding=1)
    with torch.no_grad():
        conv.weight[:, :, [0, 0, 2, 2], [0, 2, 0, 2]] = 0.0  # no diagonal taps
    layer = LatticeConv.from_conv2d(conv)
    grid = torch.randn(3, H, W, FIN)
    out, _ = graph_layer_on_grid(layer, lattice_graph((H, W), neighbours=4), grid)
    torch.testing.assert_close(out, grid_to_nodes(conv_on_grid(conv, grid)), atol=1e-5, rtol=0)


def test_masked_cells_act_as_zero_padding():
    torch.manual_seed(3)
    conv = nn.Conv2d(FIN, FOUT, 3, padding=1)
    layer = LatticeConv.from_conv2d(conv)
    mask = np.zeros((H, W), dtype=bool)
    mask[1:3, 2:4] = True  # an island
    mask[4, 0] = True  # a corner cell
    graph = lattice_graph((H, W), neighbours=8, mask=mask)
    grid = torch.randn(2, H, W, FIN)
    out, _ = graph_layer_on_grid(layer, graph, grid, mask)
    zeroed = grid.masked_fill(torch.from_numpy(mask)[None, :, :, None], 0.0)
    expected = grid_to_nodes(conv_on_grid(conv, zeroed), mask)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)
    # values under the mask must not leak into the graph layer's output
    noisy = grid.masked_fill(torch.from_numpy(mask)[None, :, :, None], 1e3)
    torch.testing.assert_close(graph_layer_on_grid(layer, graph, noisy, mask)[0], out)


def test_gradients_match_conv2d():
    torch.manual_seed(4)
    conv = nn.Conv2d(FIN, FOUT, 3, padding=1)
    layer = LatticeConv.from_conv2d(conv)
    graph = lattice_graph((H, W), neighbours=8)
    grid = torch.randn(2, H, W, FIN)
    target = torch.randn(2, H * W, FOUT)
    ((graph_layer_on_grid(layer, graph, grid)[0] - target) ** 2).sum().backward()
    ((grid_to_nodes(conv_on_grid(conv, grid)) - target) ** 2).sum().backward()
    expected = conv.weight.grad.permute(2, 3, 1, 0).reshape(9, FIN, FOUT)
    torch.testing.assert_close(layer.weight.grad, expected, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(layer.bias.grad, conv.bias.grad, atol=1e-4, rtol=1e-5)


def test_batch_time_layout_and_edge_weights_scale_messages():
    torch.manual_seed(5)
    layer = LatticeConv(FIN, FOUT, bias=False)
    graph = lattice_graph((3, 3), neighbours=4)
    ei, types = graph.edge_index, lattice_offsets(graph)
    x = torch.randn(2, 6, graph.num_nodes, FIN)  # [B, T, N, F]
    out = layer(x, ei, None, types)
    assert out.shape == (2, 6, graph.num_nodes, FOUT)
    torch.testing.assert_close(out[1, 4], layer(x[1, 4], ei, None, types))
    # zero edge weights leave only the centre term
    alone = layer(x, ei, torch.zeros(ei.size(1)), types)
    torch.testing.assert_close(alone, x @ layer.weight[4])


@pytest.mark.parametrize("centre", [4, None])
def test_gather_and_scatter_paths_agree_with_weights_and_grads(centre):
    """The lattice takes the gather path; a graph with two edges of one type into a node
    takes the scatter path; on a lattice both give the same values and gradients."""
    torch.manual_seed(7)
    layer = LatticeConv(FIN, FOUT, centre=centre)
    graph = lattice_graph((4, 5), neighbours=8, mask=np.eye(4, 5, dtype=bool))
    ei, types = graph.edge_index, lattice_offsets(graph)
    if centre is None:  # no centre weight: self-loops may carry the centre type
        loops = torch.arange(graph.num_nodes).repeat(2, 1)
        ei, types = torch.cat([ei, loops], 1), torch.cat([types, torch.full_like(loops[0], 4)])
    w = torch.rand(ei.size(1))
    x = torch.randn(2, 3, graph.num_nodes, FIN, requires_grad=True)
    assert layer._gather_plan(ei, types, graph.num_nodes) is not None
    grads = []
    for run in (lambda: layer(x, ei, w, types), lambda: layer._scatter(x, ei, w, types)):
        out = run()
        out.sin().sum().backward()
        grads.append((out.detach(), x.grad.clone(), layer.weight.grad.clone()))
        x.grad, layer.weight.grad = None, None
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    # a repeated (target, type) pair: only the scatter path can sum both messages
    twice_ei, twice_t = torch.cat([ei, ei[:, :1]], 1), torch.cat([types, types[:1]])
    assert layer._gather_plan(twice_ei, twice_t, graph.num_nodes) is None
    twice = layer(x, twice_ei, torch.cat([w, w[:1]]), twice_t)
    once = layer(x, ei, w.index_add(0, torch.tensor([0]), w[:1]), types)
    torch.testing.assert_close(twice, once, atol=1e-5, rtol=1e-5)


def test_invalid_edge_types_are_rejected():
    layer = LatticeConv(2, 2)
    ei = torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="centre type 4"):
        layer(torch.randn(2, 2), ei, None, torch.tensor([4, 3]))
    with pytest.raises(ValueError, match=r"expected \[0, 9\)"):
        layer(torch.randn(2, 2), ei, None, torch.tensor([9, 3]))
    with pytest.raises(ValueError, match="edge_type must have shape"):
        layer(torch.randn(2, 2), ei, None, torch.tensor([3]))
    with pytest.raises(ValueError, match="kernel_size=3"):
        LatticeConv.from_conv2d(nn.Conv2d(2, 2, 5, padding=2))


def test_reset_parameters_and_repr():
    layer = LatticeConv(3, 5)
    before = layer.weight.detach().clone()
    layer.reset_parameters()
    assert not torch.equal(before, layer.weight)
    bound = 1 / (9 * 3) ** 0.5
    assert float(layer.weight.detach().abs().max()) <= bound
    assert float(layer.bias.detach().abs().max()) <= bound
    assert "3, 5, num_types=9, centre=4, bias=True" in repr(layer)


def test_grid_round_trip_through_a_masked_lattice():
    mask = np.zeros((H, W), dtype=bool)
    mask[0, :3] = True
    grid = torch.randn(4, H, W, 2)
    nodes = grid_to_nodes(grid, mask)
    back = nodes_to_grid(nodes, mask, fill=-1.0)
    keep = torch.from_numpy(~mask)
    torch.testing.assert_close(back[:, keep], grid[:, keep])
    assert bool((back[:, torch.from_numpy(mask)] == -1.0).all())


@settings(max_examples=30, deadline=None)
@given(
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    fin=st.integers(1, 3),
    seed=st.integers(0, 2**16),
    drop=st.floats(0.0, 0.6),
)
def test_conv2d_equivalence_holds_for_any_grid_shape_and_mask(h, w, fin, seed, drop):
    torch.manual_seed(seed)
    mask = np.random.default_rng(seed).random((h, w)) < drop
    conv = nn.Conv2d(fin, 2, 3, padding=1)
    layer = LatticeConv.from_conv2d(conv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IsolatedNodesWarning)
        graph = lattice_graph((h, w), neighbours=8, mask=mask)
    grid = torch.randn(1, h, w, fin).masked_fill(torch.from_numpy(mask)[None, :, :, None], 0.0)
    out, _ = graph_layer_on_grid(layer, graph, grid, mask)
    expected = grid_to_nodes(conv_on_grid(conv, grid), mask)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)
