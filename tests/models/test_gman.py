"""GMAN: the spectral node embedding (deterministic, orthogonal, cached per graph), transform
attention carries the future covariates to the forecast, published defaults."""

from __future__ import annotations

import torch

from stgraph.models import ModelSpec, build_model, get_model, hyperparameters
from stgraph.models.gman import laplacian_embedding
from tests.nn.conftest import random_graph

N, L, H = 8, 12, 4


def _model():
    torch.manual_seed(0)
    spec = ModelSpec(1, 1, L, H, N, steps_per_day=24)
    return build_model("gman", spec, dim=8, heads=2, blocks=1, embedding_dim=4).eval()


def _covariates() -> torch.Tensor:
    steps = torch.arange(L + H, dtype=torch.float32)
    return torch.stack([(steps % 24) / 24, (steps // 24) % 7], -1)[None, :, None].repeat(2, 1, 1, 1)


def test_node_embedding_is_a_deterministic_scaled_laplacian_eigenbasis():
    ei, ew = random_graph(N)
    emb = laplacian_embedding(ei, ew, N, 10)
    assert emb.shape == (N, 10) and emb.dtype == torch.float64
    assert torch.equal(emb, laplacian_embedding(ei.clone(), ew.clone(), N, 10))
    assert bool((emb[:, N - 1 :] == 0).all())  # only N - 1 non-trivial eigenvectors
    vecs = emb[:, : N - 1]
    assert torch.allclose(vecs.T @ vecs, N * torch.eye(N - 1, dtype=torch.float64), atol=1e-8)
    peak = vecs.abs().argmax(0)
    assert bool((vecs[peak, torch.arange(N - 1)] > 0).all())  # sign convention
    # eigenvectors of L = I - D^-1/2 A D^-1/2, orthogonal to the trivial D^1/2 1
    a = torch.zeros(N, N, dtype=torch.float64)
    a[ei[1], ei[0]] = ew.double()
    d = a.sum(1).rsqrt()
    lap = torch.eye(N, dtype=torch.float64) - d[:, None] * a * d[None]
    rayleigh = torch.diagonal(vecs.T @ lap @ vecs) / N
    assert torch.allclose(lap @ vecs, vecs * rayleigh, atol=1e-8)
    assert torch.allclose(a.sum(1).sqrt() @ vecs, torch.zeros(N - 1, dtype=torch.float64))


def test_node_embedding_is_cached_per_graph_and_follows_the_weights():
    model, x, cov = _model(), torch.randn(2, L, N, 1), _covariates()
    ei, ew = random_graph(N)
    first = model.node_embedding(ei, ew)
    assert model.node_embedding(ei, ew) is first
    other = ew.clone()
    other[0] *= 10.0
    assert not torch.allclose(model.node_embedding(ei, other), first)
    with torch.no_grad():
        assert not torch.allclose(model(x, ei, ew, cov), model(x, ei, other, cov), atol=1e-6)
    caps = get_model("gman").capabilities
    assert caps.uses_graph and not caps.time_varying_edges


def test_transform_attention_reads_the_future_covariates():
    """The forecast at future step ``j`` depends on the calendar of step ``L + j``: the
    transform attention's queries are the future spatio-temporal embeddings."""
    model, x, cov = _model(), torch.randn(2, L, N, 1), _covariates()
    ei, ew = random_graph(N)
    with torch.no_grad():
        out = model(x, ei, ew, cov)
        later = cov.clone()
        later[:, L:, :, 0] = (later[:, L:, :, 0] + 7 / 24) % 1
        assert not torch.allclose(model(x, ei, ew, later), out, atol=1e-6)
        # identical future embeddings -> identical forecasts at every future step
        flat = cov.clone()
        flat[:, L:] = cov[:, L : L + 1]
        same = model(x, ei, ew, flat)
    assert torch.allclose(same, same[:, :1].expand_as(same), atol=1e-6)


def test_published_defaults_and_parameter_count():
    assert hyperparameters("gman") == {"dim": 64, "heads": 8, "blocks": 3, "embedding_dim": 64}
    model = build_model("gman", ModelSpec(1, 1, 12, 12, 207))
    d = 64

    def lin(i: int, o: int, bias: bool = True) -> int:
        return i * o + (o if bias else 0)

    block = 2 * 3 * lin(2 * d, d) + lin(d, d, bias=False) + lin(d, d)
    expected = (
        lin(d, d) + lin(d, d)  # spatial embedding FC
        + 288 * d + 7 * d + lin(d, d)  # temporal embedding
        + lin(1, d) + lin(d, d)  # input FC
        + 6 * block + 3 * lin(d, d)  # encoder, decoder, transform attention
        + lin(d, d) + lin(d, 1)  # output FC
    )  # fmt: skip
    assert sum(p.numel() for p in model.parameters()) == expected == 399105
