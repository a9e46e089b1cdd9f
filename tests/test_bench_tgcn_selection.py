"""The T-GCN selection-rule diagnostic: scoring the test split every epoch changes nothing."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import torch

from stgraph.engine import Forecaster, RunConfig, TrainConfig, Trainer
from stgraph.engine.evaluation import evaluate_forecaster

BENCH = Path(__file__).resolve().parents[1] / "tools" / "bench"
CFG = TrainConfig(
    epochs=3, batch_size=16, max_batches=2, progress=False, seed=1, fit_on="train+val"
)


@pytest.fixture
def selection(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))  # the bench scripts import their neighbours
    return importlib.import_module("tgcn_selection")


def _forecaster(data):
    config = RunConfig.create(
        "tiny", "stid", protocol={"lookback": 12, "horizon": 3}, train=CFG, seed=1
    )
    return Forecaster.build(config, data)


def test_tracing_the_test_split_leaves_training_unchanged(selection, tiny_traffic, tmp_path):
    plain = _forecaster(tiny_traffic)
    Trainer(plain, tiny_traffic, CFG, tmp_path / "plain").fit()
    traced = _forecaster(tiny_traffic)
    test = traced.protocol.windows(tiny_traffic, "test")
    tracer = selection.TestTracingTrainer(
        traced,
        tiny_traffic,
        CFG,
        tmp_path / "traced",
        test_score=lambda forecast: evaluate_forecaster(forecast, test, CFG.batch_size),
    )
    tracer.fit()
    a, b = plain.model.state_dict(), traced.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # one test score per epoch, per step, and they move as the weights do
    assert len(tracer.trace) == CFG.epochs
    assert set(tracer.trace[0]["horizons"]) == {"1", "2", "3"}
    rmse = [t["horizons"]["1"]["rmse"] for t in tracer.trace]
    assert len(set(rmse)) == CFG.epochs
