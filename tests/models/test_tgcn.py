"""T-GCN / A3T-GCN: one recurrence, two read-outs (last state vs attention), parameter counts."""

from __future__ import annotations

import pytest
import torch

from stgraph.models import ModelSpec, build_model
from tests.nn.conftest import random_graph

SPEC = ModelSpec(1, 1, 12, 4, 6)


@pytest.fixture()
def pair():
    """A T-GCN and an A3T-GCN sharing the recurrent and output weights."""
    torch.manual_seed(0)
    tgcn = build_model("tgcn", SPEC, hidden=8).eval()
    a3t = build_model("a3tgcn", SPEC, hidden=8).eval()
    missing, unexpected = a3t.load_state_dict(tgcn.state_dict(), strict=False)
    assert unexpected == [] and missing and all(k.startswith("pool.") for k in missing)
    return tgcn, a3t


def test_attention_weights_are_a_distribution_over_the_lookback(pair):
    _, a3t = pair
    x, cov = torch.randn(3, 12, 6, 1), torch.rand(3, 16, 1, 2)
    with torch.no_grad():
        alpha = a3t.pool.weights(a3t.encode(x, *random_graph(), cov))
    assert alpha.shape == (3, 12, 6, 1)
    assert bool((alpha >= 0).all())
    assert torch.allclose(alpha.sum(dim=1), torch.ones(3, 6, 1), atol=1e-6)
    assert float(alpha.std(dim=1).max()) > 0  # not uniform: the scores depend on the states


def test_a3tgcn_reads_the_attention_context_of_the_tgcn_states(pair):
    """Same recurrence: A3T-GCN = T-GCN's head applied to sum_t alpha_t h_t (not to h_L);
    with a constant score the context is the plain mean of the states."""
    tgcn, a3t = pair
    x, cov, (ei, ew) = torch.randn(2, 12, 6, 1), torch.rand(2, 16, 1, 2), random_graph()
    with torch.no_grad():
        h = tgcn.encode(x, ei, ew, cov)
        alpha = a3t.pool.weights(h)
        expected = tgcn.head((alpha * h).sum(1, keepdim=True), x)
        out = a3t(x, ei, ew, cov)
        assert torch.allclose(out, expected, atol=1e-5)
        assert not torch.allclose(out, tgcn(x, ei, ew, cov), atol=1e-4)
        a3t.pool.score.weight.zero_()
        assert torch.allclose(a3t(x, ei, ew, cov), tgcn.head(h.mean(1, keepdim=True), x), atol=1e-5)


def _expected_params(name: str, f: int, cov: int, h: int, hidden: int = 64) -> int:
    gru = 3 * (f + cov + hidden) * hidden + 3 * hidden  # gates (2 hidden) + candidate
    head = hidden * h + h
    attention = hidden * hidden + hidden + hidden if name == "a3tgcn" else 0
    return gru + head + attention


# synthetic-traffic shape: N=124, F=1, L=12, H=12, C=2 (4 calendar features)
@pytest.mark.parametrize(
    ("name", "count"),
    [("tgcn", 14220), ("a3tgcn", 18444)],
    ids=lambda v: v if isinstance(v, str) else f"default-params={v}",
)
def test_default_parameter_count(name, count):
    model = build_model(name, ModelSpec(1, 1, 12, 12, 124, 2))
    assert sum(p.numel() for p in model.parameters()) == _expected_params(name, 1, 4, 12) == count
