"""Seed ensemble: the mean of the members' forecasts, and the same protocol for all."""

from __future__ import annotations

import pytest
import torch

from stgraph.engine import Forecaster, MeanEnsemble, RunConfig


def _forecaster(data, seed, lookback=12):
    config = RunConfig.create(
        "tiny",
        "stcn",
        hparams={"dim": 8},
        protocol={"lookback": lookback, "horizon": 3},
        seed=seed,
    )
    return Forecaster.build(config, data)


def test_ensemble_forecast_is_the_members_mean(tiny_traffic):
    members = [_forecaster(tiny_traffic, s) for s in (0, 1, 2)]
    batch = next(iter(members[0].protocol.windows(tiny_traffic, "test").loader(8)))
    preds = [m.predict(batch) for m in members]
    assert not torch.equal(preds[0], preds[1])  # different seeds, different forecasts
    out = MeanEnsemble(members).predict(batch)
    assert out.shape == preds[0].shape
    assert torch.allclose(out, (preds[0] + preds[1] + preds[2]) / 3)


def test_members_with_another_protocol_are_refused(tiny_traffic):
    with pytest.raises(ValueError, match="member 2 forecasts from lookback 6"):
        MeanEnsemble([_forecaster(tiny_traffic, 0), _forecaster(tiny_traffic, 1, lookback=6)])
    with pytest.raises(ValueError, match="at least one"):
        MeanEnsemble([])
