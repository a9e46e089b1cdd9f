"""Trainer: checkpoints, early stopping and exact resume."""

from __future__ import annotations

import dataclasses
import itertools
import json

import pytest
import torch

from stgraph.engine import ConfigError, Forecaster, RunConfig, TrainConfig, Trainer, train_run
from stgraph.viz.training import read_history

CFG = TrainConfig(epochs=4, batch_size=16, max_batches=3, progress=False, seed=3, patience=10)


def _trainer(data, run_dir, cfg=CFG):
    config = RunConfig.create(
        "tiny",
        "gcn-transformer",
        hparams={"dim": 16, "heads": 2, "dropout": 0.2},
        protocol={"lookback": 12, "horizon": 3},
        train=cfg,
    )
    return Trainer(Forecaster.build(config, data), data, cfg, run_dir)


def test_resume_reproduces_the_uninterrupted_run(tiny_traffic, tmp_path):
    full = _trainer(tiny_traffic, tmp_path / "full")
    full.fit()
    part = _trainer(tiny_traffic, tmp_path / "part")
    part.fit(until_epoch=2)  # "interrupted" after epoch 2
    resumed = _trainer(tiny_traffic, tmp_path / "part")
    resumed.resume()
    assert resumed.epoch == 2
    resumed.fit()
    sa, sb = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert [h["val_mae"] for h in full.history] == [h["val_mae"] for h in resumed.history]
    # the comparison can fail: a run with another seed ends elsewhere
    other = _trainer(tiny_traffic, tmp_path / "other", TrainConfig(**{**CFG.__dict__, "seed": 4}))
    other.fit()
    assert not all(torch.equal(sa[k], other.model.state_dict()[k]) for k in sa)


def test_early_stopping_and_best_checkpoint(tiny_traffic, tmp_path):
    cfg = TrainConfig(
        epochs=50,
        batch_size=16,
        max_batches=1,
        lr=0.0,
        warmup_epochs=0,
        schedule="constant",
        patience=2,
        progress=False,
    )
    tr = _trainer(tiny_traffic, tmp_path, cfg)
    summary = tr.fit()
    assert summary["early_stopped"] and summary["epochs"] == 3  # lr 0: never improves after epoch 1
    assert (tmp_path / "best.pt").is_file() and (tmp_path / "last.pt").is_file()
    assert len((tmp_path / "train.log").read_text().splitlines()) == 3


def test_monitor_rmse_keeps_the_epoch_with_the_lowest_validation_rmse(tiny_traffic, tmp_path):
    cfg = dataclasses.replace(CFG, epochs=4, monitor="rmse", loss="mse")
    tr = _trainer(tiny_traffic, tmp_path, cfg)
    summary = tr.fit()
    rmse = [h["val_rmse"] for h in tr.history]
    best = rmse.index(min(rmse))
    assert summary["monitor"] == "rmse" and summary["best_val"] == min(rmse)
    assert summary["best_epoch"] == best + 1
    assert summary["best_val_mae"] == tr.history[best]["val_mae"] != summary["best_val"]
    logged = read_history(tmp_path)  # the log line with val_rmse still parses
    assert [h["val_mae"] for h in logged] == [h["val_mae"] for h in tr.history]
    (tmp_path / "last.pt").unlink()
    from_log = read_history(tmp_path)
    assert [h["improved"] for h in from_log] == [h["improved"] for h in tr.history]


def test_lr_schedule_shapes():
    c = TrainConfig(epochs=10, lr=1.0, warmup_epochs=1, schedule="cosine")
    f = [c.lr_factor(e) for e in range(10)]
    assert f[0] == 0.5 and f[1] == pytest.approx(1.0) and f[-1] == pytest.approx(0.01)
    assert all(a >= b for a, b in itertools.pairwise(f[1:]))
    s = TrainConfig(epochs=8, warmup_epochs=0, schedule="step")
    assert [s.lr_factor(e) for e in (0, 4, 6)] == pytest.approx([1.0, 0.1, 0.01])


def test_train_run_writes_the_run_directory(tiny_traffic, tmp_path):
    res = train_run(
        "synthetic-traffic",
        "gcn-transformer",
        out=tmp_path,
        data=tiny_traffic,
        train=TrainConfig(epochs=1, batch_size=32, max_batches=2, progress=False),
        hparams={"dim": 16, "heads": 2},
        protocol_overrides={"horizon": 4},
    )
    names = {p.name for p in tmp_path.iterdir()}
    assert {
        "config.json",
        "protocol.json",
        "forecaster.json",
        "graph.json",
        "model.pt",
        "metrics.json",
        "best.pt",
        "last.pt",
        "train.log",
    } <= names
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert (
        m["split"] == "test"
        and m["dataset"] == "synthetic-traffic"
        and m["model"] == "gcn-transformer"
    )
    assert set(m["horizons"]) == {"1", "2", "3", "4"}
    assert set(m["baselines"]) >= {"last_value", "historical_average"}
    assert (
        {"mae", "rmse", "mape"} <= set(m["overall"]) and m["params"] > 0 and m["train_seconds"] >= 0
    )
    assert "last_value" in res.table


def test_time_budget_stops_after_the_epoch_that_spends_it(tiny_traffic, tmp_path):
    cfg = TrainConfig(epochs=50, batch_size=16, max_batches=1, progress=False, time_budget=1e-6)
    summary = _trainer(tiny_traffic, tmp_path, cfg).fit()
    assert summary["epochs"] == 1 and summary["out_of_time"] and not summary["early_stopped"]
    unlimited = dataclasses.replace(cfg, epochs=2, time_budget=None)
    summary = _trainer(tiny_traffic, tmp_path / "b", unlimited).fit()
    assert summary["epochs"] == 2 and not summary["out_of_time"]


def test_time_budget_is_checked_after_every_batch(tiny_traffic, tmp_path):
    cfg = TrainConfig(epochs=50, batch_size=4, progress=False, time_budget=1e-6)
    trainer = _trainer(tiny_traffic, tmp_path, cfg)
    steps = []
    trainer.model.register_forward_hook(lambda m, i, o: steps.append(m.training))
    assert trainer.train_windows.num_batches(4) > 1  # else the test would show nothing
    summary = trainer.fit()
    assert sum(steps) == 1  # one training batch, then the validation pass (eval mode)
    assert summary["epochs"] == 1 and summary["out_of_time"]
    assert trainer.history[0]["cut_by_budget"]
    assert "budget spent mid-epoch" in (tmp_path / "train.log").read_text()
    roomy = _trainer(tiny_traffic, tmp_path / "b", dataclasses.replace(cfg, time_budget=1e6))
    roomy.fit(until_epoch=1)
    assert "cut_by_budget" not in roomy.history[0]


def test_schedule_follows_the_spent_budget():
    c = TrainConfig(epochs=3, warmup_epochs=0, time_budget=60.0)
    assert [c.lr_factor(2, s) for s in (0.0, 1.0)] == pytest.approx([1.0, 0.01])
    assert c.lr_factor(2, 0.5) == pytest.approx(0.505)  # halfway down the cosine, not the end
    s = TrainConfig(epochs=3, warmup_epochs=0, schedule="step", time_budget=60.0)
    assert [s.lr_factor(0, f) for f in (0.4, 0.6, 0.8)] == pytest.approx([1.0, 0.1, 0.01])
    with pytest.raises(ConfigError, match="time_budget"):
        TrainConfig(time_budget=0)


def test_refit_trains_on_train_and_val_windows_and_keeps_the_last_epoch(tiny_traffic, tmp_path):
    cfg = dataclasses.replace(CFG, epochs=3, lr=0.0, warmup_epochs=0, schedule="constant")
    plain = _trainer(tiny_traffic, tmp_path / "plain", dataclasses.replace(cfg, patience=1))
    refit = _trainer(
        tiny_traffic, tmp_path / "refit", dataclasses.replace(cfg, patience=1, fit_on="train+val")
    )
    n_train, n_val = len(plain.train_windows), len(plain.val_windows)
    assert len(refit.train_windows) == n_train + n_val > n_train
    assert set(refit.train_windows.starts) == set(plain.train_windows.starts) | set(
        plain.val_windows.starts
    )
    # lr 0: validation never improves, so the plain run stops after 2 epochs and keeps the
    # first; the refit ignores the (in-sample) validation and keeps the last of all 3
    assert plain.fit()["epochs"] == 2 and plain.best_epoch == 0
    summary = refit.fit()
    assert summary["epochs"] == 3 and summary["best_epoch"] == 3
    assert not summary["early_stopped"]
    with pytest.raises(ConfigError, match="fit_on"):
        TrainConfig(fit_on="val")
