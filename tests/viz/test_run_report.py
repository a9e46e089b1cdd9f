"""plot_run / write_report / `stgraph plot|report` on tiny trained runs: the files exist, the
page holds the metrics and its images and nothing external, lattices get an image map, and
a missing or unfinished run directory is a one-line error."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import json
import logging
import re
import shutil

import numpy as np
import pytest
import torch
from matplotlib.collections import PolyCollection

import stgraph
import stgraph.viz.run as run_module
from stgraph.cli import main
from stgraph.data import write_series
from stgraph.viz.report import render_report
from stgraph.viz.run import forecast_figure, pick_sensors, split_forecasts

BUDGET = {"epochs": 1, "max_batches": 2, "batch_size": 16, "progress": False}
SHORT = {"lookback": 12, "horizon": 3}


@pytest.fixture(scope="module")
def traffic_run(tiny_traffic, tmp_path_factory):
    """An attention model trained on a series directory, so the CLI reloads it by path."""
    root = tmp_path_factory.mktemp("traffic")
    series = write_series(tiny_traffic, root / "series", graph=tiny_traffic.graph)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the tests (see conftest.py)
    try:
        return stgraph.train_run(
            str(series),
            "st-transformer",
            out=root / "run",
            hparams={"dim": 8, "heads": 2, "layers": 1, "dropout": 0.0},
            train=stgraph.TrainConfig(**BUDGET),
            protocol_overrides=SHORT,
        )
    finally:
        torch.set_num_threads(threads)


def test_cli_report_embeds_every_plot_and_the_metrics(traffic_run, capsys):
    assert main(["report", str(traffic_run.run_dir)]) == 0
    page_path = traffic_run.run_dir / "report.html"
    assert capsys.readouterr().out.split() == [str(page_path)]
    plots = sorted((traffic_run.run_dir / "plots").glob("*.png"))
    names = {p.stem for p in plots}
    assert {"forecast", "horizon_errors", "error_map", "training"} <= names
    assert {"attention_temporal", "attention_spatial"} <= names
    page = page_path.read_text()
    assert page.count('src="data:image/png;base64,') == len(plots)
    assert not re.search(r"<script|<link|src=\"(?!data:)|href=|url\(", page)  # self-contained
    m = traffic_run.metrics
    for res in (m, *m["baselines"].values()):
        for step in ("1", "3"):
            assert f"<td>{res['horizons'][step]['mae']:.3f}</td>" in page
            assert f"<td>{res['horizons'][step]['rmse']:.3f}</td>" in page
    assert f"<td>{m['params']:,}</td>" in page and "st-transformer" in page


def test_cli_names_a_missing_or_unfinished_run_dir_and_unknown_sensors(
    traffic_run, tmp_path, capsys
):
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "nowhere: no such run directory" in err and "Traceback" not in err
    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(traffic_run.run_dir / "config.json", half / "config.json")
    assert main(["plot", str(half)]) == 2
    assert "unfinished run (no forecaster.json, model.pt, metrics.json)" in capsys.readouterr().err
    (tmp_path / "other").mkdir()
    assert main(["plot", str(tmp_path / "other")]) == 2
    assert "not a stgraph run directory" in capsys.readouterr().err
    assert main(["plot", str(traffic_run.run_dir), "--sensors", "nope"]) == 2
    assert "sensor 'nope' is not a node" in capsys.readouterr().err


def test_cli_plot_of_a_lattice_run_draws_an_image_map_and_skips_attention(
    tiny_lattice, tmp_path, caplog, capsys, monkeypatch
):
    real, drawn = run_module.plot_error_map, []

    def spy(*args, **kw):
        drawn.append(real(*args, **kw))
        return drawn[-1]

    monkeypatch.setattr(run_module, "plot_error_map", spy)
    series = write_series(tiny_lattice, tmp_path / "series", graph=tiny_lattice.graph)
    run = stgraph.train_run(
        str(series),
        "stcn",
        out=tmp_path / "run",
        hparams={"dim": 4, "layers": 1},
        train=stgraph.TrainConfig(**BUDGET),
        protocol_overrides=SHORT,
    )
    out = tmp_path / "figs"
    with caplog.at_level(logging.INFO, logger="stgraph.viz"):
        assert main(["plot", str(run.run_dir), "--sensors", "r1_c2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.split()
    names = ("forecast", "horizon_errors", "error_map", "training")
    assert printed == [str(out / f"{n}.png") for n in names]
    assert all((out / f"{n}.png").stat().st_size > 0 for n in names)
    assert "no attention maps" in caplog.text
    (fig,) = drawn
    assert fig.axes[0].get_images()  # the grid as an image, not a scatter


def test_default_sensors_are_the_lowest_median_and_highest_error(tiny_traffic):
    mae = np.full(tiny_traffic.num_nodes, np.nan)
    mae[[4, 9, 17, 20, 21]] = [2.0, 0.5, 9.0, 1.0, 3.0]
    picks = pick_sensors(tiny_traffic, mae, None)
    ids = tiny_traffic.graph.node_ids
    assert [i for i, _ in picks] == [9, 4, 17]
    assert [title.split()[0] for _, title in picks] == [ids[9], ids[4], ids[17]]
    assert "lowest" in picks[0][1] and "highest" in picks[2][1]


class _WithBand:
    """A run's forecaster seen as a probabilistic one: quantiles at +-1 around its forecast."""

    quantile_levels = (0.05, 0.5, 0.95)

    def __init__(self, forecaster):
        self.inner, self.protocol, self.config = forecaster, forecaster.protocol, forecaster.config

    def predict(self, batch):
        return self.inner.predict(batch)

    def predict_quantiles(self, batch):
        p = self.inner.predict(batch)
        return torch.stack([p - 1, p, p + 1], -1)


def test_a_probabilistic_forecaster_gets_its_outermost_band(traffic_run):
    forecaster, data = stgraph.load_run(traffic_run.run_dir)
    fc = split_forecasts(_WithBand(forecaster), data)
    np.testing.assert_allclose(fc.bounds[..., 0], fc.pred - 1, rtol=0, atol=1e-5)
    np.testing.assert_allclose(fc.bounds[..., 1], fc.pred + 1, rtol=0, atol=1e-5)
    fig = forecast_figure(data, fc, pick_sensors(data, fc.node_mae, ["S003"]))
    bands = [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2  # the 1-step and the H-step interval
    assert "quantiles 0.05 to 0.95" in fig.get_suptitle()


def test_the_report_shows_probabilistic_metrics_when_the_run_has_them(traffic_run, tmp_path):
    metrics = json.loads((traffic_run.run_dir / "metrics.json").read_text())
    config = json.loads((traffic_run.run_dir / "config.json").read_text())
    crps = {"crps": 0.8124, "coverage": 0.875, "width": 2.5}
    metrics["probabilistic"] = {"st-transformer": {"overall": crps, "horizons": {"3": crps}}}
    metrics["model"] = "<b>st</b>"
    page = render_report(metrics, config, [], "5min", tmp_path)
    assert "Probabilistic metrics" in page and "<td>0.812</td>" in page and "<td>0.875</td>" in page
    assert "<b>st</b>" not in page and "&lt;b&gt;st&lt;/b&gt;" in page  # escaped
    metrics.pop("probabilistic")
    assert "Probabilistic metrics" not in render_report(metrics, config, [], "5min", tmp_path)
