"""Moving average of the weights: the update rule, the swap, and the trainer using it."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from stgraph.engine import ConfigError, Forecaster, RunConfig, TrainConfig, Trainer
from stgraph.engine.ema import WeightAverage
from stgraph.engine.rundir import load_checkpoint

CFG = TrainConfig(epochs=3, batch_size=16, max_batches=3, progress=False, seed=3, patience=10)


def test_average_follows_the_exponential_rule_with_warm_up():
    model = nn.Linear(2, 1)
    avg = WeightAverage(model, decay=0.5)
    start = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    avg.update()  # d_1 = min(0.5, 2/11)
    d = 2 / 11
    expected = d * start + (1 - d) * model.weight.detach()
    assert torch.allclose(avg.state_dict()["average"]["weight"], expected)


def test_applied_swaps_in_the_average_and_restores_the_live_weights():
    model = nn.Linear(3, 2)
    avg = WeightAverage(model, decay=0.9)
    with torch.no_grad():
        model.weight.mul_(3.0)
    live = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(4, 3)
    with avg.applied():
        assert not torch.equal(model.weight, live["weight"])  # the average, not the live one
        inside = model(x)
    assert all(torch.equal(v, live[k]) for k, v in model.state_dict().items())
    assert not torch.equal(inside, model(x))
    with pytest.raises(RuntimeError), avg.applied():
        raise RuntimeError("boom")
    assert torch.equal(model.weight, live["weight"])  # restored after an exception too


def test_decay_out_of_range_is_refused():
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(nn.Linear(1, 1), 1.0)
    with pytest.raises(ConfigError, match=r"train\.ema"):
        TrainConfig(ema=1.5)


def _trainer(data, run_dir, cfg):
    config = RunConfig.create(
        "tiny",
        "stcn",
        hparams={"dim": 8},
        protocol={"lookback": 12, "horizon": 3},
        train=cfg,
    )
    return Trainer(Forecaster.build(config, data), data, cfg, run_dir)


def test_trainer_keeps_the_averaged_weights_and_resumes_exactly(tiny_traffic, tmp_path):
    cfg = dataclasses.replace(CFG, ema=0.9)
    full = _trainer(tiny_traffic, tmp_path / "full", cfg)
    full.fit()
    best = load_checkpoint(tmp_path / "full" / "best.pt")
    live = full.model.state_dict()
    assert full.average is not None
    averaged = full.average.state_dict()["average"]
    if full.best_epoch == full.epoch - 1:  # the last epoch was kept: best.pt is its average
        assert all(torch.equal(best[k], averaged[k]) for k in averaged)
    assert any(not torch.equal(best[k], live[k]) for k in averaged)
    part = _trainer(tiny_traffic, tmp_path / "part", cfg)
    part.fit(until_epoch=2)
    resumed = _trainer(tiny_traffic, tmp_path / "part", cfg)
    resumed.resume()
    resumed.fit()
    assert [h["val_mae"] for h in resumed.history] == [h["val_mae"] for h in full.history]
    again = resumed.average.state_dict()["average"]
    assert all(torch.equal(again[k], averaged[k]) for k in averaged)
    # without the average the validation scores differ: the option is not a no-op
    plain = _trainer(tiny_traffic, tmp_path / "plain", CFG)
    plain.fit()
    assert [h["val_mae"] for h in plain.history] != [h["val_mae"] for h in full.history]
