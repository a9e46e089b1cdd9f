"""Spatial attention respects its mask; the adaptive adjacency is row-stochastic."""

import torch

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


def test_adaptive_adjacency_rows_are_distributions_and_drive_the_convolution():
    adj = AdaptiveAdjacency(5, dim=3)()
    assert (adj >= 0).all()
    torch.testing.assert_close(adj.sum(1), torch.ones(5))
    conv = AdaptiveGraphConv(2, 3, num_nodes=5, k=2)
    x = torch.randn(4, 5, 2)
    a = conv.adjacency()
    torch.testing.assert_close(conv(x), conv.lin(torch.cat([x, a @ x, a @ a @ x], -1)))
