"""Distributional heads: every registered model with a quantile / Gaussian head, losses that
train, original units through the scalers, save / load, forecast frames, configs and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from stgraph.cli import main
from stgraph.data import Protocol, SpatioTemporalData
from stgraph.engine import RunConfig, TrainConfig, evaluate_run, train_run
from stgraph.engine.config import ConfigError
from stgraph.engine.forecaster import Forecaster, model_inputs, model_spec
from stgraph.engine.probforecast import to_original
from stgraph.models import build_model, get_model, hyperparameters, list_models
from stgraph.models.common import DistributionalOutput, HorizonHead, OutputHead

QUANTILE = OutputHead("quantile", (0.1, 0.25, 0.5, 0.75, 0.9))
GAUSSIAN = OutputHead("gaussian")
SHRINK = {"dim": 16, "hidden": 16, "heads": 2, "adaptive_dim": 16}


def two_features(data: SpatioTemporalData) -> SpatioTemporalData:
    """``data`` with a second feature (half the first), so heads are tested with F = 2."""
    values = torch.cat([data.values, 0.5 * data.values], -1)
    mask = torch.cat([data.mask, data.mask], -1)
    return SpatioTemporalData(
        values, mask, data.timestamps, data.graph, ("a", "b"), name=f"{data.name}-2"
    )


@pytest.fixture(scope="module")
def setups(tiny_traffic, tiny_lattice):
    out = {}
    for key, data in (("graph", tiny_traffic), ("grid", tiny_lattice)):
        data = two_features(data)
        p = Protocol("tiny", lookback=12, horizon=6).fit(data)
        out[key] = (data, p, model_spec(data, p))
    return out


@pytest.mark.parametrize("name", [m.name for m in list_models()])
def test_every_model_runs_with_a_distributional_head(name, setups):
    data, p, spec = setups["grid" if get_model(name).capabilities.grid_only else "graph"]
    hp = {k: v for k, v in SHRINK.items() if k in hyperparameters(name)}
    batch = p.windows(data, "train").batch(np.arange(3))
    x = model_inputs(batch, p.get_scaler())
    ei, ew = data.graph.edge_index, data.graph.edge_weight
    for head in (QUANTILE, GAUSSIAN):
        torch.manual_seed(0)
        model = build_model(name, spec.__class__(**{**spec.to_dict(), "head": head}), **hp)
        assert isinstance(model, DistributionalOutput)
        out = model(x, ei, ew, batch.covariates)
        assert out.shape == (3, 6, data.num_nodes, 2, head.width)
        assert torch.isfinite(out).all()
        if head is QUANTILE:
            assert bool((out.diff(dim=-1) > 0).all()), "quantiles cross"
        else:
            assert bool((out[..., 1] > 0).all()), "a Gaussian scale is not positive"


def test_persistence_moves_the_location_only():
    """A HorizonHead with persistence adds the last value to every quantile / the mean, never
    to the spread (which would happen if it were added to all F * K channels)."""

    class Tiny(torch.nn.Module):
        def __init__(self, out_channels: int) -> None:
            super().__init__()
            self.head = HorizonHead(4, 3, 2, out_channels)

        def forward(self, h, x):
            return self.head(h, x)

    torch.manual_seed(0)
    h, x = torch.randn(2, 3, 5, 4), torch.randn(2, 3, 5, 2)
    shifted = x.clone()
    shifted[:, -1] += torch.tensor([3.0, -1.0])
    for head in (QUANTILE, GAUSSIAN):
        model = DistributionalOutput(Tiny(2 * head.width), 2, head)
        a, b = model(h, x), model(h, shifted)
        if head is QUANTILE:
            assert torch.allclose(b - a, torch.tensor([3.0, -1.0])[:, None].expand_as(a), atol=1e-5)
        else:
            assert torch.allclose(
                b[..., 0] - a[..., 0], torch.tensor([3.0, -1.0]).expand(2, 2, 5, 2)
            )
            assert torch.allclose(b[..., 1], a[..., 1])


def _forecaster(data, head, scaler="zscore"):
    config = RunConfig.create(
        data.name,
        "stid",
        hparams={"dim": 8, "layers": 1, "dropout": 0.0},
        protocol={"lookback": 12, "horizon": 6, "scaler": scaler},
        train={"epochs": 1, "max_batches": 2, "progress": False},
        head=head.to_dict(),
    )
    return Forecaster.build(config, data)


@pytest.mark.parametrize("head", [QUANTILE, GAUSSIAN], ids=["quantile", "gaussian"])
def test_the_head_loss_falls_within_a_few_dozen_steps(tiny_traffic, head):
    fc = _forecaster(tiny_traffic, head)
    loss_fn = {"quantile": "pinball", "gaussian": "gaussian_nll"}[head.kind]
    assert fc.config.train.loss == loss_fn
    from stgraph.engine.metrics import LOSSES

    batch = fc.protocol.windows(tiny_traffic, "train").batch(np.arange(0, 64, 8))
    opt = torch.optim.AdamW(fc.model.parameters(), lr=3e-3)
    fc.model.train()
    before = fc.loss(batch, LOSSES[loss_fn]).item()
    for _ in range(30):
        opt.zero_grad()
        fc.loss(batch, LOSSES[loss_fn]).backward()
        opt.step()
    after = fc.loss(batch, LOSSES[loss_fn]).item()
    assert after < before - 0.1 * abs(before)
    with pytest.raises(ConfigError, match=f"use '{loss_fn}'"):
        fc.fit(tiny_traffic, TrainConfig(epochs=1, loss="mse"))  # a conflicting explicit loss


@pytest.mark.parametrize("scaler", ["zscore-node", "minmax"])
def test_quantiles_and_scale_come_back_in_original_units(tiny_traffic, scaler):
    scaled = torch.randn(2, 6, tiny_traffic.num_nodes, 1, 2)
    scaled[..., 1] = scaled[..., 1].abs() + 0.1
    p = Protocol("tiny", lookback=12, horizon=6, scaler=scaler).fit(tiny_traffic)
    s = p.get_scaler()
    gauss = to_original(GAUSSIAN, scaled, s.inverse_transform)
    assert torch.allclose(gauss[..., 0], s.inverse_transform(scaled[..., 0]))
    assert torch.allclose(gauss[..., 1], scaled[..., 1] * s.scale, rtol=1e-4, atol=1e-5)
    q = scaled.sort(-1).values
    head = OutputHead("quantile", (0.2, 0.8))
    assert torch.allclose(
        to_original(head, q, s.inverse_transform)[..., 1], s.inverse_transform(q[..., 1])
    )


def test_save_load_round_trip_and_forecast_columns(tiny_traffic, tmp_path):
    fc = _forecaster(tiny_traffic, QUANTILE)
    batch = fc.protocol.windows(tiny_traffic, "test").batch(np.arange(4))
    q = fc.predict_quantiles(batch)
    assert q.shape == (4, 6, tiny_traffic.num_nodes, 1, 5) and fc.quantile_levels == QUANTILE.levels
    assert torch.equal(fc.predict(batch), q[..., 2])  # the point forecast is the median
    fc.save(tmp_path)
    again = Forecaster.load(tmp_path)
    assert again.head == QUANTILE and torch.equal(again.predict_quantiles(batch), q)
    frame = again.forecast(tiny_traffic)
    cols = [f"q{t:g}" for t in QUANTILE.levels]
    assert list(frame.columns) == ["time", "node", "feature", "value", *cols]
    assert (frame[cols].diff(axis=1).iloc[:, 1:] > 0).all().all()
    assert np.allclose(frame["value"], frame["q0.5"])
    gauss = _forecaster(tiny_traffic, GAUSSIAN).forecast(tiny_traffic)
    assert (
        "std" in gauss and (gauss["std"] > 0).all() and np.allclose(gauss["value"], gauss["q0.5"])
    )


def test_head_settings_are_validated_and_old_configs_still_load(tiny_traffic):
    old = RunConfig.create("synthetic-traffic", "stid").to_dict()
    assert "head" not in old  # a point run's config.json is unchanged
    assert RunConfig.from_dict(old).head == OutputHead()
    new = RunConfig.create("synthetic-traffic", "stid", head={"kind": "gaussian"})
    assert RunConfig.from_dict(new.to_dict()) == new and new.train.loss == "gaussian_nll"
    bad = [
        ({"head": {"kind": "quantile", "levels": [0.9, 0.1]}}, "sorted and unique"),
        ({"head": {"kind": "quantile", "levels": [0.1, 0.1]}}, "sorted and unique"),
        ({"head": {"kind": "quantile", "levels": [0.0, 0.5]}}, "strictly inside"),
        ({"head": {"kind": "gaussian", "levels": [0.5]}}, "for a quantile head"),
        ({"head": {"kind": "beta"}}, "head.kind"),
        ({"head": {"kind": "quantile"}, "train": {"loss": "mse"}}, "use 'pinball'"),
        ({"train": {"loss": "gaussian_nll"}}, "scores a distribution"),
        ({"head": {"kind": "quantile"}, "train": {"node_batch": 8}}, "node_batch"),
    ]
    for change, message in bad:
        with pytest.raises(ConfigError, match=message):
            RunConfig.from_dict({**old, **change})


def test_train_and_evaluate_report_probabilistic_metrics(tiny_traffic, tmp_path):
    budget = TrainConfig(epochs=1, max_batches=2, progress=False)
    run = train_run(
        RunConfig.create(
            "tiny", "stid", hparams={"dim": 16}, train=budget, head={"kind": "quantile"}
        ),
        data=tiny_traffic,
        out=tmp_path / "run",
    )
    prob = json.loads((run.run_dir / "metrics.json").read_text())["probabilistic"]
    assert set(prob) == {"model", "climatological_quantile"}
    for res in prob.values():
        assert {"crps", "coverage", "width"} <= set(res["overall"]) and "1" in res["horizons"]
    assert "CRPS" in run.table and "climatological_quantile" in run.table
    again = evaluate_run(run.run_dir, data=tiny_traffic)
    assert again.metrics["probabilistic"] == prob


@pytest.mark.slow
def test_cli_quantile_flags_train_and_forecast(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--dataset", "synthetic-traffic", "--model", "stid", "--epochs", "1"]
    args += ["--max-batches", "2", "--horizon", "3", "--out", str(out), "--no-progress"]
    args += ["--head", "quantile", "--quantiles", "0.1", "0.5", "0.9", "--set", "dim=16"]
    assert main(args) == 0
    assert "CRPS" in capsys.readouterr().out
    assert json.loads((out / "config.json").read_text())["head"]["levels"] == [0.1, 0.5, 0.9]
    assert main(["forecast", str(out)]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header == "time,node,feature,value,q0.1,q0.5,q0.9"
    bad = [
        "train",
        "--dataset",
        "synthetic-traffic",
        "--model",
        "stid",
        "--out",
        str(tmp_path / "x"),
    ]
    assert main([*bad, "--quantiles", "0.5", "0.2"]) == 2
    assert "sorted and unique" in capsys.readouterr().err
