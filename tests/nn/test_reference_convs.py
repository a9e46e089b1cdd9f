"""Spatial layers equal their published definitions: PyG's reference GCNConv, ChebConv and
GATConv (weights copied), and DCRNN's diffusion formula written with dense matrices."""

import pytest
import torch
from torch_geometric import nn as pyg

from stgraph.nn import ChebConv, DiffusionConv, GATConv, GCNConv
from tests.nn.conftest import dense_adjacency, random_graph


@pytest.mark.parametrize("layout", ["dense", "sparse"])
@pytest.mark.parametrize(("cin", "cout"), [(5, 7), (7, 5)])
def test_gcn_equals_pyg_gcnconv(layout, cin, cout):
    ei, w = random_graph(8)
    x = torch.randn(2, 3, 8, cin)
    ours, ref = GCNConv(cin, cout, layout=layout), pyg.GCNConv(cin, cout)
    with torch.no_grad():
        ref.lin.weight.copy_(ours.lin.weight)
        ours.bias.normal_()
        ref.bias.copy_(ours.bias)
    torch.testing.assert_close(ours(x, ei, w), ref(x, ei, w))


@pytest.mark.parametrize("layout", ["dense", "sparse"])
@pytest.mark.parametrize(
    ("cin", "cout", "k"), [(5, 7, 4), (7, 5, 4), (6, 6, 2), (6, 6, 1), (6, 6, 8), (7, 5, 9)]
)
def test_chebyshev_equals_pyg_chebconv_in_both_evaluation_orders(layout, cin, cout, k):
    ei, w = random_graph(8)
    x = torch.randn(2, 3, 8, cin)
    ours, ref = ChebConv(cin, cout, k=k, layout=layout), pyg.ChebConv(cin, cout, K=k)
    with torch.no_grad():
        for j, lin in enumerate(ref.lins):
            lin.weight.copy_(ours.lin.weight[:, j * cin : (j + 1) * cin])
        ours.lin.bias.normal_()
        ref.bias.copy_(ours.lin.bias)
    torch.testing.assert_close(ours(x, ei, w), ref(x, ei, w), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(("cin", "cout"), [(4, 9), (9, 4)])
def test_diffusion_equals_the_dcrnn_formula_in_both_evaluation_orders(cin, cout):
    ei, w = random_graph(7, symmetric=False)
    a = dense_adjacency(ei, w, 7)
    fwd = (a / a.sum(1, keepdim=True)).t()  # (D_O^-1 A)^T
    bwd = (a.t() / a.t().sum(1, keepdim=True)).t()  # (D_I^-1 A^T)^T
    x = torch.randn(2, 3, 7, cin)
    conv = DiffusionConv(cin, cout, k=2)
    with torch.no_grad():
        conv.lin.bias.normal_()
    terms = [x, fwd @ x, fwd @ fwd @ x, bwd @ x, bwd @ bwd @ x]
    torch.testing.assert_close(conv(x, ei, w), conv.lin(torch.cat(terms, -1)), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("layout", ["dense", "sparse"])
@pytest.mark.parametrize("concat", [True, False])
def test_gat_equals_pyg_gatconv(layout, concat):
    ei, _ = random_graph(8, symmetric=False)
    x = torch.randn(2, 3, 8, 5)
    ours = GATConv(5, 8, heads=2, concat=concat, layout=layout)
    ref = pyg.GATConv(5, 4 if concat else 8, heads=2, concat=concat)
    with torch.no_grad():
        ref.lin.weight.copy_(ours.lin.weight)
        ref.att_src.copy_(ours.att_src[None])
        ref.att_dst.copy_(ours.att_dst[None])
        ours.bias.normal_()
        ref.bias.copy_(ours.bias)
    out = ours(x, ei)
    for b in range(2):
        for t in range(3):
            torch.testing.assert_close(out[b, t], ref(x[b, t], ei), atol=1e-5, rtol=1e-4)
