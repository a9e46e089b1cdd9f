"""Scheduled sampling (curriculum learning): the decay, the DCRNN decoder and the trainer."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from stgraph.data import Protocol
from stgraph.engine import ConfigError, Forecaster, RunConfig, TrainConfig, Trainer
from stgraph.engine.forecaster import model_spec
from stgraph.models import build_model


def test_inverse_sigmoid_decay():
    cfg = TrainConfig(teacher_forcing_decay=100.0)
    eps = [cfg.teacher_forcing(i) for i in (0, 100, 460, 1000, 10**9)]
    assert eps[0] == pytest.approx(100 / 101)
    assert eps[1] == pytest.approx(100 / (100 + math.e))
    assert all(a > b for a, b in itertools.pairwise(eps[:4]))
    assert 0.0 <= eps[4] < 1e-12  # no overflow far into training
    assert TrainConfig().teacher_forcing(0) == 0.0  # off by default
    with pytest.raises(ConfigError, match="teacher_forcing_decay"):
        TrainConfig(teacher_forcing_decay=-1.0)


@pytest.fixture(scope="module")
def dcrnn(tiny_traffic):
    p = Protocol("tiny", lookback=6, horizon=4).fit(tiny_traffic)
    torch.manual_seed(0)
    model = build_model("dcrnn", model_spec(tiny_traffic, p), hidden=8, layers=1)
    return model, tiny_traffic


def test_dcrnn_decoder_feeds_the_truth_only_when_told(dcrnn):
    model, data = dcrnn
    ei, ew = data.graph.edge_index, data.graph.edge_weight
    n = data.num_nodes
    x = torch.randn(2, 6, n, 1)
    y1, y2 = torch.randn(2, 4, n, 1), torch.randn(2, 4, n, 1)
    model.train()
    a = model(x, ei, ew, targets=y1, teacher_forcing=1.0)
    b = model(x, ei, ew, targets=y2, teacher_forcing=1.0)
    assert torch.equal(a[:, 0], b[:, 0])  # the first step is decoded from the GO symbol
    assert not torch.allclose(a[:, 1:], b[:, 1:])  # later steps read the fed truth
    # a missing target falls back to the model's own prediction
    nan = torch.full_like(y1, float("nan"))
    own = model(x, ei, ew)
    assert torch.allclose(model(x, ei, ew, targets=nan, teacher_forcing=1.0), own)
    assert torch.equal(model(x, ei, ew, targets=y1, teacher_forcing=0.0), own)
    model.eval()  # never at evaluation time
    assert torch.equal(model(x, ei, ew, targets=y1, teacher_forcing=1.0), model(x, ei, ew))


def test_run_config_refuses_a_model_without_a_decoder():
    with pytest.raises(ConfigError, match="no decoder"):
        RunConfig.create("tiny", "stcn", train=TrainConfig(teacher_forcing_decay=10.0))
    RunConfig.create("tiny", "dcrnn", train=TrainConfig(teacher_forcing_decay=10.0))


def test_trainer_passes_the_decayed_probability_step_by_step(tiny_traffic, tmp_path, monkeypatch):
    cfg = TrainConfig(
        epochs=2, batch_size=16, max_batches=3, progress=False, teacher_forcing_decay=2.0
    )
    config = RunConfig.create(
        "tiny", "dcrnn", hparams={"hidden": 8, "layers": 1}, protocol={"lookback": 6, "horizon": 3}
    )
    fc = Forecaster.build(config, tiny_traffic)
    seen: list[float] = []
    original = Forecaster.loss

    def spy(self, batch, loss_fn, teacher_forcing=0.0):
        seen.append(teacher_forcing)
        return original(self, batch, loss_fn, teacher_forcing)

    monkeypatch.setattr(Forecaster, "loss", spy)
    Trainer(fc, tiny_traffic, cfg, tmp_path).fit()
    np.testing.assert_allclose(seen, [cfg.teacher_forcing(i) for i in range(6)])
