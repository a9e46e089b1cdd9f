"""The Forecaster: the graph the model sees, eval mode after loading, and forecasting past the
end of the data with real timestamps and node ids."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

import stgraph
from stgraph.cli import main
from stgraph.data import SpatioTemporalData, TemporalEdges
from stgraph.engine import Forecaster, RunConfig, TrainConfig, load_run, train_run

BUDGET = TrainConfig(epochs=1, batch_size=32, max_batches=2, progress=False)


def _with_edges(data: SpatioTemporalData, shift: int) -> SpatioTemporalData:
    """``data`` with a time-varying ring graph: node i -> i + shift (mod N) at every step."""
    n = data.num_nodes
    src = np.arange(n)
    step = (np.stack([src, (src + shift) % n]), np.ones(n))
    te = TemporalEdges.from_steps([step] * data.num_steps, n)
    return dataclasses.replace(data, temporal_edges=te, name=f"ring{shift}")


@pytest.mark.slow
def test_time_varying_edges_reach_the_model(tiny_traffic, tmp_path):
    """Two series that differ only in their per-step edges must give different forecasts; the
    static-graph code path gave identical test MAE (the model saw data.graph)."""
    maes = []
    for shift in (1, 5):
        run = train_run(
            "ring",
            "stcn",
            data=_with_edges(tiny_traffic, shift),
            out=tmp_path / f"ring{shift}",
            train=BUDGET,
            hparams={"dim": 8},
            protocol_overrides={"horizon": 3},
        )
        maes.append(run.metrics["overall"]["mae"])
    assert maes[0] != pytest.approx(maes[1], rel=1e-6, abs=0)


@pytest.fixture(scope="module")
def stcn_run(tiny_traffic, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "stcn"
    train_run(
        "tiny",
        "stcn",
        data=tiny_traffic,
        out=out,
        train=BUDGET,
        hparams={"dim": 8, "dropout": 0.5},
        protocol_overrides={"horizon": 3},
    )
    return out


@pytest.mark.slow
def test_load_run_returns_the_model_in_eval_mode(stcn_run, tiny_traffic):
    """With dropout 0.5 two forward passes in train mode differ; a loaded run predicts the
    same twice."""
    forecaster, data = load_run(stcn_run, data=tiny_traffic)
    assert not forecaster.model.training
    batch = forecaster.protocol.windows(data, "test").batch(np.arange(4))
    assert torch.equal(forecaster.predict(batch), forecaster.predict(batch))


@pytest.mark.slow
def test_forecast_continues_the_series(stcn_run, tiny_traffic):
    frame = stgraph.forecast_run(stcn_run, data=tiny_traffic)
    h, n = 3, tiny_traffic.num_nodes
    assert list(frame.columns) == ["time", "node", "feature", "value"] and len(frame) == h * n
    last = tiny_traffic.timestamps[-1]
    expected = [last + pd.Timedelta(minutes=5 * k) for k in (1, 2, 3)]
    assert sorted(frame["time"].unique()) == expected
    assert list(frame["node"].iloc[:n]) == list(tiny_traffic.graph.node_ids)
    assert set(frame["feature"]) == {"speed"} and np.isfinite(frame["value"]).all()
    # the forecast reads the last L steps, and only those
    values = tiny_traffic.values.clone()
    values[-1] += 20.0
    moved = dataclasses.replace(tiny_traffic, values=values)
    assert not np.allclose(stgraph.forecast_run(stcn_run, data=moved)["value"], frame["value"])
    values = tiny_traffic.values.clone()
    values[:-12] += 20.0
    early = dataclasses.replace(tiny_traffic, values=values)
    assert np.allclose(stgraph.forecast_run(stcn_run, data=early)["value"], frame["value"])


@pytest.mark.slow
def test_forecast_refuses_data_that_does_not_fit(stcn_run, tiny_traffic):
    forecaster, _ = load_run(stcn_run, data=tiny_traffic)
    renamed = dataclasses.replace(tiny_traffic, feature_names=("flow",))
    with pytest.raises(ValueError, match=r"features \['flow'\] \(run: \['speed'\]\)"):
        forecaster.forecast(renamed)
    hourly = dataclasses.replace(
        tiny_traffic,
        timestamps=pd.date_range("2024-01-01", periods=tiny_traffic.num_steps, freq="1h"),
        covariates=None,
        covariate_names=(),
        freq=None,
    )
    with pytest.raises(ValueError, match=r"freq"):
        forecaster.forecast(hourly)
    with pytest.raises(ValueError, match=r"needs the last 12 steps"):
        forecaster.forecast(_slice(tiny_traffic, 5))


def _slice(data: SpatioTemporalData, steps: int) -> SpatioTemporalData:
    return dataclasses.replace(
        data,
        values=data.values[-steps:],
        mask=data.mask[-steps:],
        timestamps=data.timestamps[-steps:],
        covariates=None,
        covariate_names=(),
    )


@pytest.mark.slow
def test_forecast_cli_reads_recent_observations(stcn_run, tiny_traffic, tmp_path, capsys):
    recent = _slice(tiny_traffic, 12)
    tidy = pd.DataFrame(
        {
            "time": np.repeat(recent.timestamps, recent.num_nodes),
            "node": np.tile(recent.graph.node_ids, 12),
            "feature": "speed",
            "value": np.where(recent.mask[..., 0], recent.values[..., 0], np.nan).ravel(),
        }
    )
    tidy.to_csv(tmp_path / "recent.csv", index=False)
    out = tmp_path / "forecast.csv"
    args = [
        "forecast",
        str(stcn_run),
        "--input",
        str(tmp_path / "recent.csv"),
        "--output",
        str(out),
    ]
    assert main(args) == 0
    got = pd.read_csv(out)
    want = stgraph.forecast_run(stcn_run, data=tiny_traffic)
    assert np.allclose(got["value"], want["value"], atol=1e-4)
    assert list(got["node"].astype(str)) == list(want["node"])
    tidy.assign(node=tidy["node"].where(tidy["node"] != "S000", "X9")).to_csv(
        tmp_path / "bad.csv", index=False
    )
    capsys.readouterr()
    assert main(["forecast", str(stcn_run), "--input", str(tmp_path / "bad.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "S000" in err and "bad.csv" in err


def test_forecaster_fits_without_a_run_directory(tiny_traffic):
    cfg = RunConfig.create(
        "tiny", "stcn", hparams={"dim": 8}, protocol={"horizon": 3}, train=BUDGET
    )
    fc = Forecaster.build(cfg, tiny_traffic)
    before = {k: v.clone() for k, v in fc.model.state_dict().items()}
    summary = fc.fit(tiny_traffic)
    assert summary["epochs"] == 1 and math.isfinite(summary["best_val_mae"])
    assert not fc.model.training
    assert any(not torch.equal(before[k], v) for k, v in fc.model.state_dict().items())
    assert len(fc.forecast(tiny_traffic)) == 3 * tiny_traffic.num_nodes


def test_models_refuse_data_they_cannot_use(tiny_traffic, monkeypatch):
    from stgraph.engine import ConfigError
    from stgraph.models import Capabilities, get_model

    stcn = get_model("stcn").cls
    caps = Capabilities(time_varying_edges=False)
    monkeypatch.setattr(stcn, "capabilities", caps, raising=False)
    cfg = RunConfig.create("ring", "stcn", hparams={"dim": 8}, protocol={"horizon": 3})
    with pytest.raises(ConfigError, match=r"'stcn' works on one static graph.*time-varying"):
        Forecaster.build(cfg, _with_edges(tiny_traffic, 1))
    Forecaster.build(cfg, tiny_traffic)  # a static graph is fine
    monkeypatch.setattr(stcn, "capabilities", Capabilities(grid_only=True), raising=False)
    with pytest.raises(ConfigError, match=r"needs nodes on a grid"):
        Forecaster.build(cfg, tiny_traffic)
