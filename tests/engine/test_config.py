"""RunConfig and TrainConfig: validated once, with errors that name the setting."""

from __future__ import annotations

import dataclasses
import json

import pytest

from stgraph.engine import ConfigError, RunConfig, TrainConfig
from stgraph.engine.settings import read_settings


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("batch_size", 0, r"train.batch_size must be >= 1, got 0"),
        ("max_batches", 0, r"train.max_batches must be >= 1, got 0"),
        ("grad_clip", float("nan"), r"train.grad_clip must be finite"),
        ("lr", float("inf"), r"train.lr must be finite"),
        ("epochs", 0, r"train.epochs must be >= 1"),
        ("patience", 0, r"train.patience must be >= 1"),
        ("loss", "huber", r"train.loss 'huber' is not one of"),
        ("monitor", "mape", r"train.monitor 'mape' is not one of"),
        ("epochs", 2.5, r"train.epochs must be an integer"),
    ],
)
def test_train_config_refuses_out_of_range_values(field, value, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**{field: value})


def test_hyper_parameters_are_checked_by_name_and_type():
    with pytest.raises(ConfigError, match=r"no hyper-parameter 'hiden'.*hidden=64"):
        RunConfig.create("synthetic-traffic", "dcrnn", hparams={"hiden": 32})
    with pytest.raises(ConfigError, match=r"dim='abc' should be int \(default 32\)"):
        RunConfig.create("synthetic-traffic", "stcn", hparams={"dim": "abc"})
    with pytest.raises(ConfigError, match=r"'num_nodes' comes from the data"):
        RunConfig.create("synthetic-traffic", "stcn", hparams={"num_nodes": 3})
    with pytest.raises(ConfigError, match=r"unknown model 'nope'"):
        RunConfig.create("synthetic-traffic", "nope")


def test_config_round_trips_through_json_and_toml(tmp_path):
    cfg = RunConfig.create(
        "synthetic-traffic",
        "dcrnn",
        hparams={"hidden": 16},
        protocol={"lookback": 24, "horizon": 6},
        train={"epochs": 3, "lr": 0.01},
        seed=7,
    )
    assert cfg.train.seed == 7 and cfg.proto.seed == 7 and cfg.proto.lookback == 24
    cfg.save(tmp_path / "config.json")
    back = RunConfig.from_file(tmp_path / "config.json")
    assert back == cfg and back.differences(cfg) == []
    (tmp_path / "run.toml").write_text(
        'dataset = "synthetic-traffic"\nmodel = "dcrnn"\nseed = 7\n'
        "[hparams]\nhidden = 16\n[protocol]\nlookback = 24\nhorizon = 6\n"
        "[train]\nepochs = 3\nlr = 0.01\n"
    )
    assert RunConfig.from_file(tmp_path / "run.toml") == cfg
    other = cfg.replace(protocol=dataclasses.replace(cfg.proto, lookback=12))
    assert other.differences(cfg) == ["protocol.lookback: 12 (saved run: 24)"]


def test_settings_files_name_the_file_and_the_key(tmp_path):
    bad = tmp_path / "run.toml"
    bad.write_text('dataset = "synthetic-traffic"\nmodel = "stcn"\n[train]\nepoch = 3\n')
    with pytest.raises(ConfigError, match=r"run.toml: unknown train setting\(s\) \['epoch'\]"):
        RunConfig.from_file(bad)
    broken = tmp_path / "config.json"
    broken.write_text('{"dataset": "x", ')
    with pytest.raises(ConfigError, match=r"config.json: not valid JSON"):
        read_settings(broken)
    (tmp_path / "list.json").write_text(json.dumps([1, 2]))
    with pytest.raises(ConfigError, match=r"list.json: expected a table"):
        read_settings(tmp_path / "list.json")
    with pytest.raises(ConfigError, match=r"missing\.toml: no such file"):
        read_settings(tmp_path / "missing.toml")
