"""Graph WaveNet: the receptive field covers the lookback, the adaptive adjacency is a
row-stochastic matrix that propagates information even on a graph with no edges."""

from __future__ import annotations

import pytest
import torch

from stgraph.models import ModelSpec, build_model

N = 6


def _model(lookback: int = 12, **hparams):
    torch.manual_seed(0)
    spec = ModelSpec(1, 1, lookback, 3, N)
    return build_model("graph-wavenet", spec, dim=8, **hparams).eval()


def _chain(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    src = torch.arange(n - 1)
    return torch.stack([src, src + 1]), torch.ones(n - 1)


@pytest.mark.parametrize(("blocks", "layers", "kernel", "field"), [(4, 2, 2, 13), (2, 3, 3, 29)])
def test_receptive_field_is_exactly_the_furthest_step_that_matters(blocks, layers, kernel, field):
    model = _model(field, blocks=blocks, layers=layers, kernel_size=kernel)
    assert model.receptive_field == field
    x, cov = torch.randn(2, field, N, 1), torch.rand(2, field + 3, 1, 2)
    older = x.clone()
    older[:, 0] += 1.0  # the oldest step of a lookback as long as the receptive field
    with torch.no_grad():
        assert not torch.allclose(model(x, *_chain(N), cov), model(older, *_chain(N), cov))
    with pytest.raises(ValueError, match=f"receptive field {field}"):
        _model(field + 1, blocks=blocks, layers=layers, kernel_size=kernel)


def test_shorter_lookbacks_are_zero_padded_to_the_receptive_field():
    model = _model(5)
    x = torch.randn(2, 5, N, 1)
    with torch.no_grad():
        out = model(x, *_chain(N))
        assert out.shape == (2, 3, N, 1)
        longer = _model(13)
        longer.load_state_dict(model.state_dict())
        padded = torch.cat([x.new_zeros(2, 8, N, 1), x], 1)
        # zero values and (no covariates) zero calendar features on the 8 extra steps
        assert torch.allclose(longer(padded, *_chain(N)), out, atol=1e-6)


def test_adaptive_adjacency_is_row_stochastic_and_spreads_without_edges(monkeypatch):
    model = _model()
    adj = model.adjacency()
    assert adj.shape == (N, N) and bool((adj >= 0).all())
    assert torch.allclose(adj.sum(1), torch.ones(N), atol=1e-6)
    no_edges = torch.zeros(2, 0, dtype=torch.long), torch.zeros(0)
    x = torch.randn(2, 12, N, 1)
    poked = x.clone()
    poked[:, :, 0] += 1.0

    def reach() -> torch.Tensor:
        """Largest output change at nodes 1.. when node 0's inputs change."""
        with torch.no_grad():
            diff = model(poked, *no_edges) - model(x, *no_edges)
        return diff[:, :, 1:].abs().amax(dim=(0, 1, 3))

    assert bool((reach() > 1e-6).all()), "node 0 does not reach every other node"
    # the adaptive adjacency is the only path: replaced by I, nothing crosses between nodes
    monkeypatch.setattr(model.adjacency, "forward", lambda: torch.eye(N))
    assert float(reach().max()) == 0.0
