"""End-to-end runs: everything is validated before a folder exists; resume keeps the saved
run's settings; training that cannot produce a model says so."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from stgraph.engine import (
    ConfigError,
    Forecaster,
    RunConfig,
    TrainConfig,
    Trainer,
    TrainingError,
    load_run,
    train_run,
)

BUDGET = TrainConfig(epochs=2, batch_size=32, max_batches=2, progress=False)


def _run(data, out, **kw):
    kw.setdefault("train", BUDGET)
    kw.setdefault("hparams", {"dim": 8})
    return train_run("tiny", "stcn", data=data, out=out, **kw)


@pytest.mark.parametrize(
    ("protocol", "message"),
    [
        ({"split": (0.8, 0.0, 0.2)}, r"the val split has no window"),
        ({"split": (0.985, 0.01, 0.005), "horizon": 12}, r"split has no window"),
    ],
)
def test_splits_without_windows_are_refused_before_any_folder(
    tiny_traffic, tmp_path, protocol, message
):
    with pytest.raises(ConfigError, match=message):
        _run(tiny_traffic, tmp_path / "run", protocol_overrides=protocol)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_divergence_ends_with_a_clear_error(tiny_traffic, tmp_path):
    train = dataclasses.replace(BUDGET, lr=1e30, grad_clip=0.0, warmup_epochs=0)
    with pytest.raises(TrainingError, match=r"lower the learning rate"):
        _run(tiny_traffic, tmp_path / "run", train=train)
    assert not (tmp_path / "run" / "metrics.json").exists()


@pytest.mark.slow
def test_reusing_a_folder_is_refused_and_overwrite_starts_clean(tiny_traffic, tmp_path):
    first = _run(tiny_traffic, tmp_path / "run")
    with pytest.raises(ConfigError, match=r"already exists"):
        _run(tiny_traffic, tmp_path / "run", hparams={"dim": 4})
    second = _run(tiny_traffic, tmp_path / "run", hparams={"dim": 4}, overwrite=True)
    assert second.metrics["params"] < first.metrics["params"]
    assert json.loads((tmp_path / "run" / "config.json").read_text())["hparams"] == {"dim": 4}
    forecaster, _ = load_run(tmp_path / "run", data=tiny_traffic)
    assert sum(p.numel() for p in forecaster.model.parameters()) == second.metrics["params"]


@pytest.mark.slow
def test_resume_keeps_the_saved_settings(tiny_traffic, tmp_path):
    out = tmp_path / "run"
    cfg = RunConfig.create(
        "tiny", "stcn", hparams={"dim": 8}, protocol={"lookback": 24, "horizon": 3}, train=BUDGET
    )
    train_run(cfg, data=tiny_traffic, out=out)
    saved = (out / "config.json").read_text()
    other = RunConfig.create(
        "tiny", "stcn", hparams={"dim": 8}, protocol={"lookback": 12, "horizon": 3}, train=BUDGET
    )
    with pytest.raises(ConfigError, match=r"protocol.lookback: 12 \(saved run: 24\)"):
        train_run(other, data=tiny_traffic, out=out, resume=True)
    bigger = cfg.replace(hparams={"dim": 16})
    with pytest.raises(ConfigError, match=r"hparams.dim: 16 \(saved run: 8\)"):
        train_run(bigger, data=tiny_traffic, out=out, resume=True)
    assert (out / "config.json").read_text() == saved
    forecaster, _ = load_run(out, data=tiny_traffic)
    assert forecaster.protocol.lookback == 24
    again = train_run(cfg, data=tiny_traffic, out=out, resume=True)
    assert again.metrics["epochs"] == BUDGET.epochs


@pytest.mark.slow
def test_a_kill_between_checkpoint_and_log_leaves_no_duplicate_or_part_file(tiny_traffic, tmp_path):
    cfg = RunConfig.create("tiny", "stcn", hparams={"dim": 8}, train=BUDGET)
    trainer = Trainer(Forecaster.build(cfg, tiny_traffic), tiny_traffic, cfg.train, tmp_path)
    trainer.fit(until_epoch=1)
    lines = (tmp_path / "train.log").read_text().splitlines()
    (tmp_path / "train.log").write_text("\n".join(lines * 2) + "\n")  # a line written twice
    resumed = Trainer(Forecaster.build(cfg, tiny_traffic), tiny_traffic, cfg.train, tmp_path)
    resumed.resume()
    resumed.fit()
    log = (tmp_path / "train.log").read_text().splitlines()
    assert [ln.split()[1] for ln in log] == ["1/2", "2/2"]


@pytest.mark.slow
def test_mape_is_not_reported_for_signed_data(tiny_traffic, tmp_path):
    centred = dataclasses.replace(tiny_traffic, values=tiny_traffic.values - 60.0)
    assert (centred.values[centred.mask] < 0).any()
    run = _run(centred, tmp_path / "run", train=dataclasses.replace(BUDGET, epochs=1))
    assert run.metrics["overall"]["mape"] is None
    assert all(b["overall"]["mape"] is None for b in run.metrics["baselines"].values())
    assert run.metrics["overall"]["mae"] is not None
    assert "MAPE" not in run.table.splitlines()[0] and "MAPE not reported" in run.table


def test_rmse_loss_gives_zero_gradient_when_nothing_is_observed():
    from stgraph.engine.metrics import masked_rmse

    pred = torch.randn(2, 3, 4, 1, requires_grad=True)
    loss = masked_rmse(pred, torch.zeros_like(pred), torch.zeros_like(pred, dtype=torch.bool))
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(pred.grad, torch.zeros_like(pred))
    perfect = torch.randn(2, 3, 4, 1, requires_grad=True)
    masked_rmse(
        perfect, perfect.detach().clone(), torch.ones(2, 3, 4, 1, dtype=torch.bool)
    ).backward()
    assert torch.isfinite(perfect.grad).all()
