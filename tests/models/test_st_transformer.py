"""Spatio-temporal transformer: node permutation equivariance and graph-masked attention."""

from __future__ import annotations

import torch

from stgraph.models import ModelSpec, build_model
from tests.nn.conftest import random_graph


def _model():
    torch.manual_seed(0)
    return build_model("st-transformer", ModelSpec(1, 1, 12, 3, 8), dim=16, heads=2).eval()


def test_renumbering_nodes_and_graph_together_renumbers_the_forecast():
    model = _model()
    ei, ew = random_graph(8, p=0.3)
    x, cov = torch.randn(2, 12, 8, 1), torch.rand(2, 15, 1, 2)
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(1))
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(8)  # new position of old node i is inv[i]
    with torch.no_grad():
        out = model(x, ei, ew, cov)
        out_perm = model(x[:, :, perm], inv[ei], ew, cov)
    assert torch.allclose(out_perm, out[:, :, perm], atol=1e-5)


def test_attention_stays_inside_the_connected_component():
    """Nodes 0-3 and 4-7 form two separate rings: changing the inputs of one ring leaves
    the other ring's forecast unchanged (spatial attention is masked by the graph)."""
    model = _model()
    ring = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
    ei = torch.cat([ring, ring.flip(0), ring + 4, ring.flip(0) + 4], 1)
    x, cov = torch.randn(1, 12, 8, 1), torch.rand(1, 15, 1, 2)
    other = x.clone()
    other[:, :, 4:] += torch.randn(1, 12, 4, 1)
    with torch.no_grad():
        out, out_other = model(x, ei, None, cov), model(other, ei, None, cov)
    assert torch.allclose(out[:, :, :4], out_other[:, :, :4], atol=1e-6)
    assert not torch.allclose(out[:, :, 4:], out_other[:, :, 4:], atol=1e-3)
