"""One contract test over every registered model (a registry loop)."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
import torch

from stgraph.data import Protocol
from stgraph.engine.forecaster import model_inputs, model_spec
from stgraph.engine.metrics import masked_mae
from stgraph.models import build_model, get_model, hyperparameters, list_models

MODELS = [m.name for m in list_models()]
# Small sizes for a fast loop: every size-like hyper-parameter a model has is shrunk.
SHRINK = {"dim": 16, "hidden": 16, "heads": 2, "adaptive_dim": 16}


def small(name: str) -> dict:
    """Test-sized hyper-parameters of model ``name``."""
    return {k: v for k, v in SHRINK.items() if k in hyperparameters(name)}


def _setup(data):
    p = Protocol("tiny", lookback=12, horizon=6).fit(data)
    return data, p, model_spec(data, p)


@pytest.fixture(scope="module")
def traffic_setup(tiny_traffic):
    return _setup(tiny_traffic)


@pytest.fixture(scope="module")
def lattice_setup(tiny_lattice):
    return _setup(tiny_lattice)


@pytest.fixture
def setup(name, request):
    """The tiny traffic data, or the tiny lattice for grid-only models."""
    grid = get_model(name).capabilities.grid_only
    return request.getfixturevalue("lattice_setup" if grid else "traffic_setup")


def _model(name, spec, seed=0):
    torch.manual_seed(seed)
    return build_model(name, spec, **small(name))


@pytest.mark.parametrize("name", MODELS)
def test_shapes_gradients_and_batch_independence(name, setup):
    data, p, spec = setup
    model = _model(name, spec)
    w = p.windows(data, "train")
    b = w.batch(np.arange(4))
    ei, ew = data.graph.edge_index, data.graph.edge_weight
    out = model(model_inputs(b, p.get_scaler()), ei, ew, b.covariates)
    assert out.shape == (4, 6, data.num_nodes, 1)
    out.square().mean().backward()
    dead = [
        n
        for n, prm in model.named_parameters()
        if prm.grad is None
        or not torch.isfinite(prm.grad).all()
        or float(prm.grad.abs().sum()) == 0.0
    ]
    assert dead == []
    model.eval()
    with torch.no_grad():
        full = model(model_inputs(b, p.get_scaler()), ei, ew, b.covariates)
        one = model(
            model_inputs(w.batch(np.arange(1, 2)), p.get_scaler()), ei, ew, b.covariates[1:2]
        )
    assert torch.allclose(full[1:2], one, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_state_dict_round_trip_with_weights_only(name, setup):
    data, _, spec = setup
    a, b = _model(name, spec, 0), _model(name, spec, 1)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b.load_state_dict(torch.load(buf, weights_only=True))
    x = torch.randn(2, 12, data.num_nodes, 1)
    a.eval(), b.eval()
    assert torch.equal(
        a(x, data.graph.edge_index, data.graph.edge_weight),
        b(x, data.graph.edge_index, data.graph.edge_weight),
    )


@pytest.mark.parametrize("name", MODELS)
def test_training_makes_the_loss_fall(name, setup):
    data, p, spec = setup
    model = _model(name, spec)
    scaler = p.get_scaler()
    w = p.windows(data, "train")
    ei, ew = data.graph.edge_index, data.graph.edge_weight
    probe = w.batch(np.arange(0, len(w), max(1, len(w) // 32)))

    def probe_loss():
        model.eval()
        with torch.no_grad():
            out = model(model_inputs(probe, scaler), ei, ew, probe.covariates)
        return float(masked_mae(out, scaler.transform(probe.y), probe.y_mask))

    before = probe_loss()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    epochs = (w.loader(16, shuffle=True, generator=gen) for _ in range(10))
    model.train()
    for b in itertools.islice(itertools.chain.from_iterable(epochs), 80):
        loss = masked_mae(
            model(model_inputs(b, scaler), ei, ew, b.covariates), scaler.transform(b.y), b.y_mask
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = probe_loss()
    assert after < 0.75 * before, (before, after)


@pytest.mark.parametrize("name", MODELS)
def test_output_depends_on_the_graph_and_the_whole_lookback(name, setup):
    data, p, spec = setup
    model = _model(name, spec).eval()
    b = p.windows(data, "train").batch(np.arange(2))
    x = model_inputs(b, p.get_scaler())
    ei, ew = data.graph.edge_index, data.graph.edge_weight
    with torch.no_grad():
        out = model(x, ei, ew, b.covariates)
        no_edges = model(x, ei[:, :0], ew[:0], b.covariates)
        first = x.clone()
        first[:, 0] += 1.0  # the oldest input step
        older = model(first, ei, ew, b.covariates)
    uses_graph = get_model(name).capabilities.uses_graph
    assert torch.allclose(out, no_edges, atol=1e-6) != uses_graph, "graph use is not as declared"
    assert not torch.allclose(out, older, atol=1e-6), "the first lookback step is ignored"
