"""STAEformer: the adaptive embedding, equivariance under a permutation of the nodes together
with their adaptive embeddings, every input step's calendar is read, published defaults."""

from __future__ import annotations

import pytest
import torch

from stgraph.models import ModelSpec, build_model, get_model, hyperparameters
from tests.nn.conftest import random_graph

N, L, H = 7, 12, 3
SMALL = {"dim": 8, "adaptive_dim": 8, "hidden": 16, "heads": 2, "layers": 1}


def _model():
    torch.manual_seed(0)
    return build_model("staeformer", ModelSpec(1, 1, L, H, N, steps_per_day=24), **SMALL).eval()


def _covariates() -> torch.Tensor:
    steps = torch.arange(L + H, dtype=torch.float32)
    return torch.stack([(steps % 24) / 24, (steps // 24) % 7], -1)[None, :, None].repeat(2, 1, 1, 1)


def test_published_defaults_and_the_adaptive_embedding():
    assert hyperparameters("staeformer") == {
        "dim": 24,
        "adaptive_dim": 80,
        "hidden": 256,
        "heads": 4,
        "layers": 3,
        "dropout": 0.1,
    }
    model = build_model("staeformer", ModelSpec(1, 1, 12, 12, 207))
    assert isinstance(model.adaptive, torch.nn.Parameter)
    assert model.adaptive.shape == (12, 207, 80)
    assert model.width == 3 * 24 + 80
    assert (len(model.temporal), len(model.spatial)) == (3, 3)
    assert sum(p.numel() for p in model.parameters()) == 1258932


def test_permuting_nodes_with_their_adaptive_embeddings_permutes_the_output():
    model = _model()
    perm = torch.randperm(N, generator=torch.Generator().manual_seed(3))
    x, cov = torch.randn(2, L, N, 1), _covariates()
    with torch.no_grad():
        out = model(x, None, None, cov)
        model.adaptive.copy_(model.adaptive[:, perm])
        permuted = model(x[:, :, perm], None, None, cov)
    assert torch.allclose(permuted, out[:, :, perm], atol=1e-5)
    assert not torch.allclose(permuted, out, atol=1e-3)


def test_every_input_steps_calendar_is_read_and_the_graph_is_not():
    model, x, cov = _model(), torch.randn(2, L, N, 1), _covariates()
    with torch.no_grad():
        out = model(x, *random_graph(N), cov)
        assert torch.equal(model(x, None, None, cov), out)
        future = cov.clone()
        future[:, L:] = 0.0
        assert torch.equal(model(x, None, None, future), out)
        first = cov.clone()
        first[:, 0, :, 0] = 0.5
        assert not torch.allclose(model(x, None, None, first), out, atol=1e-6)
    assert not get_model("staeformer").capabilities.uses_graph


def test_heads_must_divide_the_model_size():
    with pytest.raises(ValueError, match="divisible by heads=5"):
        build_model("staeformer", ModelSpec(1, 1, L, H, N), heads=5)
