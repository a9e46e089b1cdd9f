"""Spatial attention respects its mask; the adaptive adjacency is row-stochastic."""

import pytest
import torch

import stgraph.nn.attention.spatial as spatial
from stgraph.nn import AdaptiveAdjacency, AdaptiveGraphConv, SpatialAttention
from tests.nn.conftest import random_graph


def test_masked_spatial_attention_hears_only_in_neighbours_and_itself():
    ei, _ = random_graph(7, p=0.1, symmetric=False)
    layer = SpatialAttention(4, 8, heads=2).eval()
    x = torch.randn(1, 1, 7, 4)
    base = layer(x, ei)
    heard = {(int(s), int(t)) for s, t in ei.t()}
    for src in range(7):
        y = x.clone()
        y[..., src, :] += 3.0
        changed = (layer(y, ei) - base).abs().amax(-1)[0, 0] > 1e-6
        for tgt in range(7):
            assert bool(changed[tgt]) == (tgt == src or (src, tgt) in heard), (src, tgt)


@pytest.mark.parametrize("nodes", [40, 6])  # sparse: pair by pair; dense: masked N x N
def test_masked_spatial_attention_pair_path_matches_the_dense_mask(nodes, monkeypatch):
    torch.manual_seed(0)
    calls = []
    pairwise = spatial.edge_attention
    monkeypatch.setattr(
        spatial, "edge_attention", lambda *a, **k: calls.append(1) or pairwise(*a, **k)
    )
    ei = torch.randint(0, nodes, (2, 3 * nodes))
    ei = torch.cat([ei, ei[:, :5], torch.tensor([[1], [1]])], 1)  # repeats and a self loop
    layer = SpatialAttention(8, 16, heads=4)  # training mode, dropout 0: deterministic
    x = torch.randn(2, 3, nodes, 8, requires_grad=True)
    out = layer(x, ei)
    assert len(calls) == (nodes == 40)
    allowed = torch.eye(nodes, dtype=torch.bool)
    allowed[ei[1], ei[0]] = True
    ref = layer.attn(x, attn_mask=allowed)  # the dense masked form, the same weights
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    g = torch.randn_like(out)
    grads = torch.autograd.grad((out * g).sum(), [x, *layer.parameters()])
    ref_grads = torch.autograd.grad((ref * g).sum(), [x, *layer.parameters()])
    for a, b in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_adaptive_adjacency_rows_are_distributions_and_drive_the_convolution():
    adj = AdaptiveAdjacency(5, dim=3)()
    assert (adj >= 0).all()
    torch.testing.assert_close(adj.sum(1), torch.ones(5))
    conv = AdaptiveGraphConv(2, 3, num_nodes=5, k=2)
    x = torch.randn(4, 5, 2)
    a = conv.adjacency()
    torch.testing.assert_close(conv(x), conv.lin(torch.cat([x, a @ x, a @ a @ x], -1)))
