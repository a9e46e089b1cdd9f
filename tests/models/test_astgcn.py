"""ASTGCN: attention rows are distributions, the Chebyshev basis is ChebConv's, the output
follows the edge weights, published defaults."""

from __future__ import annotations

import pytest
import torch

from stgraph.models import ModelSpec, build_model, hyperparameters
from stgraph.models.astgcn import ASTGCNAttention, chebyshev_basis
from stgraph.nn import ChebConv
from tests.nn.conftest import random_graph

N, L, H = 6, 12, 3


def _model():
    torch.manual_seed(0)
    return build_model("astgcn", ModelSpec(1, 1, L, H, N), hidden=8, dim=8).eval()


def test_attention_rows_sum_to_one_and_depend_on_the_input():
    torch.manual_seed(0)
    spatial = ASTGCNAttention(channels=3, attended=N, other=L)
    x = torch.randn(2, N, L, 3)
    s = spatial(x)
    assert s.shape == (2, N, N)
    assert bool((s > 0).all())
    assert torch.allclose(s.sum(-1), torch.ones(2, N), atol=1e-6)
    assert not torch.allclose(s[0], s[1], atol=1e-4)  # per-window attention


def test_basis_matches_chebconv():
    """``sum_k T_k(L~) x Theta_k`` with the dense basis equals stgraph's ChebConv."""
    torch.manual_seed(0)
    ei, ew = random_graph(N)
    conv = ChebConv(2, 4, k=3)
    model = _model()
    basis = model.basis(ei, ew, torch.zeros(1))
    assert basis.shape == (3, N, N)
    assert torch.equal(basis[0], torch.eye(N))
    assert torch.allclose(basis[2], 2 * basis[1] @ basis[1] - basis[0], atol=1e-6)
    x = torch.randn(5, N, 2)
    terms = torch.einsum("kij,bjc->bikc", basis, x).flatten(-2)
    assert torch.allclose(conv.lin(terms), conv(x, ei, ew), atol=1e-5)
    assert torch.equal(chebyshev_basis(basis[1], 1), basis[:1])


def test_output_follows_the_edge_weights():
    model, x = _model(), torch.randn(2, L, N, 1)
    ei, ew = random_graph(N)
    heavier = ew.clone()
    src, dst = int(ei[0, 0]), int(ei[1, 0])
    pair = ((ei[0] == src) & (ei[1] == dst)) | ((ei[0] == dst) & (ei[1] == src))
    heavier[pair] *= 5.0  # one undirected edge, both directions
    with torch.no_grad():
        assert not torch.allclose(model(x, ei, ew), model(x, ei, heavier), atol=1e-5)
        # the normalised Laplacian ignores a common scale of all weights
        assert torch.allclose(model(x, ei, ew), model(x, ei, 3 * ew), atol=1e-5)


def test_a_window_of_another_length_is_refused():
    with pytest.raises(ValueError, match="lookback=12"):
        _model()(torch.randn(1, 10, N, 1), *random_graph(N))


def test_published_defaults_and_parameter_count():
    assert hyperparameters("astgcn") == {
        "hidden": 64,
        "dim": 64,
        "blocks": 2,
        "k": 3,
        "kernel_size": 3,
    }
    model = build_model("astgcn", ModelSpec(1, 1, 12, 12, 207))

    def block(c: int, n: int = 207, t: int = 12) -> int:
        attention = (t + c * t + c + 2 * n * n) + (n + c * n + c + 2 * t * t)
        return attention + (3 * c * 64 + 64) + (3 * 64 * 64 + 64) + (c * 64 + 64) + 2 * 64

    expected = block(1 + 4) + block(64) + (12 * 64 * 12 + 12)
    assert sum(p.numel() for p in model.parameters()) == expected == 239767
