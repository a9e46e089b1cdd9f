"""STID: the given graph is ignored, only the last input step's calendar is read, published
defaults and their parameter count."""

from __future__ import annotations

import pytest
import torch

from stgraph.models import ModelSpec, build_model, get_model, hyperparameters
from tests.nn.conftest import random_graph

N, L, H = 6, 12, 3


def _model(**hp):
    torch.manual_seed(0)
    return build_model("stid", ModelSpec(1, 1, L, H, N, steps_per_day=24), **hp).eval()


def _covariates(batch: int = 2) -> torch.Tensor:
    steps = torch.arange(L + H, dtype=torch.float32)
    tod = (steps % 24) / 24
    dow = (steps // 24 + 3) % 7
    return torch.stack([tod, dow], -1)[None, :, None].expand(batch, -1, 1, -1).clone()


def test_the_given_graph_is_ignored_and_declared_so():
    model, x = _model(), torch.randn(2, L, N, 1)
    with torch.no_grad():
        with_graph = model(x, *random_graph(N), _covariates())
        without = model(x, torch.zeros(2, 0, dtype=torch.long), None, _covariates())
    assert torch.equal(with_graph, without)
    caps = get_model("stid").capabilities
    assert not caps.uses_graph and not caps.uses_edge_weights and not caps.adaptive_graph


def test_only_the_last_input_steps_calendar_is_read():
    model, x, cov = _model(), torch.randn(2, L, N, 1), _covariates()
    with torch.no_grad():
        out = model(x, None, None, cov)
        other = cov.clone()
        other[:, : L - 1, :, 0] = 0.5  # earlier steps' time of day
        other[:, L:, :, 1] = 6.0  # the future's day of week
        assert torch.equal(model(x, None, None, other), out)
        later = cov.clone()
        later[:, L - 1, :, 0] = (later[:, L - 1, :, 0] + 5 / 24) % 1  # 5 slots later
        assert not torch.allclose(model(x, None, None, later), out, atol=1e-6)
        weekday = cov.clone()
        weekday[:, L - 1, :, 1] = (weekday[:, L - 1, :, 1] + 1) % 7
        assert not torch.allclose(model(x, None, None, weekday), out, atol=1e-6)


def test_a_window_of_another_length_is_refused():
    with pytest.raises(ValueError, match="lookback=12"):
        _model()(torch.randn(1, 10, N, 1))


def test_published_defaults_and_parameter_count():
    assert hyperparameters("stid") == {"dim": 32, "layers": 3, "dropout": 0.15}
    model = build_model("stid", ModelSpec(1, 1, 12, 12, 207))
    d, w = 32, 4 * 32
    expected = (12 * d + d) + 207 * d + 288 * d + 7 * d + 3 * 2 * (w * w + w) + (w * 12 + 12)
    assert sum(p.numel() for p in model.parameters()) == expected == 117100
