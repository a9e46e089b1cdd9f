"""Array-level plots: each renders (Agg) to a PNG that is not one flat colour, and draws what
its data says (gaps for missing truth, one line per method, lattice cells in place)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.image import AxesImage

from stgraph.graph import SensorGraph, lattice_graph
from stgraph.viz import (
    horizon_series,
    lattice_image,
    plot_attention,
    plot_error_map,
    plot_forecast,
    plot_horizon_errors,
    plot_training,
    read_history,
    save_figure,
)


def assert_png(fig, path):
    """The figure saves as a PNG with more than one colour."""
    save_figure(fig, path, dpi=40)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = mpimg.imread(path)
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 1


def test_horizon_series_puts_each_forecast_at_its_target_time():
    rng = np.random.default_rng(0)
    pred = rng.normal(size=(4, 3, 2))  # 4 windows, H = 3, 2 sensors
    starts = np.array([10, 11, 13, 14])  # a missing window between 11 and 13
    for k in (1, 2, 3):
        out = horizon_series(pred, k, starts)
        assert out.shape == (14 - 10 + 3, 2)
        placed = starts - 10 + k - 1
        np.testing.assert_array_equal(out[placed], pred[:, k - 1])
        others = np.setdiff1d(np.arange(len(out)), placed)
        assert np.isnan(out[others]).all()
    with pytest.raises(ValueError, match=r"step must lie in 1\.\.3"):
        horizon_series(pred, 4)


def test_forecast_plot_leaves_gaps_for_missing_truth_and_shades_bands(tmp_path):
    times = pd.date_range("2024-03-01", periods=40, freq="5min")
    truth = np.sin(np.arange(40) / 5)[:, None].repeat(2, 1)
    truth[10:14, 0] = np.nan
    one = truth + 0.1
    band = (one - 0.3, one + 0.3)
    fig = plot_forecast(times, truth, {"1 step": one}, ["S1", "S2"], bands={"1 step": band})
    ax = fig.axes[0]
    y = np.asarray(ax.lines[0].get_ydata(), dtype=float)
    assert np.isnan(y[10:14]).all() and np.isfinite(y[:10]).all()  # a gap, not interpolated
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 1
    assert pd.Timestamp(matplotlib.dates.num2date(ax.get_xlim()[0])).year == 2024
    assert [a.get_title(loc="left") for a in fig.axes[:2]] == ["S1", "S2"]
    assert_png(fig, tmp_path / "forecast.png")
    with pytest.raises(ValueError, match=r"forecast '1 step' has shape \(40, 1\)"):
        plot_forecast(times, truth, {"1 step": one[:, :1]}, ["S1", "S2"])


def _results(methods, steps=3, seed=0):
    rng = np.random.default_rng(seed)

    def one():
        hs = {
            str(k): {"mae": rng.uniform(1, 3), "rmse": rng.uniform(2, 4)}
            for k in range(1, steps + 1)
        }
        return {"overall": {"mae": 2.0, "rmse": 3.0}, "horizons": hs}

    return {m: one() for m in methods}


def test_horizon_errors_draw_every_method_with_time_labels(tmp_path):
    results = _results(["dcrnn", "last_value", "historical_average"])
    fig = plot_horizon_errors(results, "5min")
    mae_ax, rmse_ax = fig.axes[:2]
    assert [t.get_text() for t in mae_ax.get_xticklabels()] == ["5m", "10m", "15m"]
    assert [ln.get_label() for ln in mae_ax.lines] == list(results)
    for ax, metric in ((mae_ax, "mae"), (rmse_ax, "rmse")):
        for line, res in zip(ax.lines, results.values(), strict=True):
            want = [res["horizons"][str(k)][metric] for k in (1, 2, 3)]
            np.testing.assert_allclose(line.get_ydata(), want)
    assert mae_ax.lines[0].get_linewidth() > mae_ax.lines[1].get_linewidth()  # the model
    assert_png(fig, tmp_path / "horizons.png")


def test_error_map_scatters_lonlat_sensors_and_draws_lattices_as_images(tmp_path):
    g = SensorGraph(
        ["a", "b", "c"],
        [[0, 1, 2], [1, 2, 0]],
        coords=[[8.50, 47.30], [8.52, 47.31], [8.51, 47.33]],
        crs="EPSG:4326",
    )
    fig = plot_error_map(g, [1.0, np.nan, 3.0])
    markers = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
    assert sum(len(m.get_offsets()) for m in markers) == 3
    assert_png(fig, tmp_path / "map.png")

    lattice = lattice_graph((3, 4))
    values = np.arange(12, dtype=float)[::-1]
    fig = plot_error_map(lattice, values)
    (image,) = [im for im in fig.axes[0].get_images() if isinstance(im, AxesImage)]
    rc = np.array([[int(p[1:]) for p in node.split("_")] for node in lattice.node_ids])
    np.testing.assert_array_equal(np.asarray(image.get_array())[rc[:, 0], rc[:, 1]], values)
    assert_png(fig, tmp_path / "lattice.png")
    part = lattice.subgraph([n for n in lattice.node_ids if n != "r1_c2"])
    assert np.isnan(lattice_image(part, np.ones(11))[1, 2])
    with pytest.raises(ValueError, match="one value per node expected"):
        plot_error_map(lattice, values[:5])


def test_training_curves_from_the_log_mark_the_best_epoch(tmp_path):
    losses, maes = [0.9, 0.5, 0.45], [5.0, 3.5, 3.9]
    log = "".join(
        f"epoch {i + 1}/3 train_loss {loss:.4f} val_mae {mae:.4f}{' *' if i < 2 else ''} (1s)\n"
        for i, (loss, mae) in enumerate(zip(losses, maes, strict=True))
    )
    (tmp_path / "train.log").write_text(log)
    history = read_history(tmp_path)
    assert [h["val_mae"] for h in history] == maes
    assert [h["improved"] for h in history] == [True, True, False]
    fig = plot_training(history)
    loss_ax, val_ax = fig.axes[:2]
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), losses)
    (best,) = [c for c in val_ax.collections if isinstance(c, PathCollection)]
    np.testing.assert_allclose(best.get_offsets(), [[2, 3.5]])  # epoch 2 is the best
    assert_png(fig, tmp_path / "training.png")
    (tmp_path / "train.log").write_text("nothing here\n")
    with pytest.raises(ValueError, match="no epoch line"):
        read_history(tmp_path)


def test_attention_maps_draw_one_panel_per_module(tmp_path):
    rng = np.random.default_rng(0)
    maps = {}
    for name in ("blocks.0.attn", "blocks.1.attn"):
        w = rng.random((5, 5))
        maps[name] = w / w.sum(1, keepdims=True)
    fig = plot_attention(maps, "spatial", labels=list("abcde"))
    images = [ax.get_images()[0] for ax in fig.axes if ax.get_images()]
    assert len(images) == 2
    np.testing.assert_allclose(images[1].get_array(), maps["blocks.1.attn"])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == list("abcde")
    assert_png(fig, tmp_path / "attention.png")
    with pytest.raises(ValueError, match="must be \\[Lq, Lk\\]"):
        plot_attention({"x": np.ones(3)})
