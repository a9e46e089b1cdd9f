"""ARIMA and VAR baselines: fitted on the training split, forecast windows with fixed
parameters, agree with statsmodels, and run through the masked metrics."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
import torch

from stgraph.data import Protocol
from stgraph.engine.baselines import BASELINES, LastValue, get_baseline
from stgraph.engine.evaluation import evaluate_forecaster
from stgraph.engine.statistical import ARIMA, VAR, fill_windows
from tests.engine.test_baselines import all_windows, make_data

sm_arima = pytest.importorskip("statsmodels.tsa.arima.model")


def arma(n: int, phi, theta, nodes: int = 1, seed: int = 0) -> np.ndarray:
    """ARMA sample per node, [n, nodes] (burn-in dropped)."""
    rng = np.random.default_rng(seed)
    e = rng.normal(size=(n + 200, nodes))
    y = np.zeros_like(e)
    for t in range(2, len(e)):
        y[t] = sum(p * y[t - 1 - i] for i, p in enumerate(phi)) + e[t]
        y[t] += sum(q * e[t - 1 - j] for j, q in enumerate(theta))
    return y[200:]


def mae(base, d, p, fit: bool = True) -> float:
    predict = (base.fit(d, p) if fit else base).predict
    return evaluate_forecaster(predict, p.windows(d, "test"), 256)["overall"]["mae"]


def statsmodels_forecast(base: ARIMA, window: np.ndarray, horizon: int) -> np.ndarray:
    """statsmodels' state-space forecast of series 0 with the baseline's parameters."""
    trend = "c" if base.order[1] == 0 else "n"
    params = np.r_[base.mu[:1] if trend == "c" else [], base.phi[0], base.theta[0], 1.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = sm_arima.ARIMA(window, order=base.order, trend=trend)
        return model.filter(params).forecast(horizon)


@pytest.mark.parametrize(
    ("order", "lookback", "tol"),
    [((2, 0, 1), 150, 1e-8), ((2, 0, 0), 8, 1e-10), ((1, 1, 1), 60, 1e-8), ((2, 1, 0), 6, 1e-10)],
)
def test_arima_matches_statsmodels_and_beats_last_value(order, lookback, tol):
    # ARMA(2,1) levels (d=0) or its cumulative sum (d=1). The zero-start MA recursion
    # converges to statsmodels' Kalman-filter forecast within the lookback (|theta| = 0.4:
    # 0.4^60 ~ 1e-24); pure AR is the same forecast exactly, from any lookback >= p + d + 1.
    # Compared in float64 (predict returns the data's float32).
    y = arma(700, [0.6, -0.3], [0.4]) + 10.0
    y = np.cumsum(y - 10.0, axis=0) if order[1] else y
    d = make_data(y, freq="h")
    p = Protocol("x", lookback=lookback, horizon=6, scaler="none").fit(d)
    base = ARIMA(order=order).fit(d, p)
    b = all_windows(d, p)
    ours = base._forecast(b.x.double().flatten(2), 6)
    torch.testing.assert_close(base.predict(b), ours.view_as(b.y).float())
    for i in (0, len(b) // 2, len(b) - 1):
        ref = statsmodels_forecast(base, b.x[i, :, 0, 0].double().numpy(), 6)
        assert np.abs(ours[i, :, 0].numpy() - ref).max() < tol * np.abs(ref).max()
    assert mae(base, d, p, fit=False) < mae(LastValue(), d, p)


def test_arima_recovers_ar_coefficients():
    d = make_data(arma(2000, [0.6, -0.3], [], nodes=1), freq="h")
    p = Protocol("x", lookback=12, horizon=3, scaler="none").fit(d)
    base = ARIMA(order=(2, 0, 0)).fit(d, p)
    assert np.allclose(base.phi[0], [0.6, -0.3], atol=0.06)


def test_var_recovers_coupling_and_beats_per_node_arima():
    # node 0 drives node 1, node 1 drives node 2: each node alone looks like noise
    a = np.array([[0.5, 0.0, 0.0], [0.8, 0.2, 0.0], [0.0, -0.7, 0.1]])
    rng = np.random.default_rng(1)
    y = np.zeros((3000, 3))
    for t in range(1, len(y)):
        y[t] = a @ y[t - 1] + rng.normal(size=3)
    d = make_data(y + 5.0, freq="h")
    p = Protocol("x", lookback=4, horizon=2, scaler="none").fit(d)
    var = VAR(p=1).fit(d, p)
    assert np.abs(var.coefs[0] - a).max() < 0.08
    assert np.allclose(var.intercept, (np.eye(3) - var.coefs[0]) @ np.full(3, 5.0), atol=0.3)
    assert mae(var, d, p) < 0.97 * mae(ARIMA(order=(1, 0, 0)), d, p)


def test_fitting_uses_the_training_split_only():
    y = arma(400, [0.5], [0.3], nodes=2, seed=3)
    poisoned = y.copy()
    poisoned[int(0.7 * len(y)) :] = 1e3 * np.sin(np.arange(len(y) - int(0.7 * len(y))))[:, None]
    fits = []
    for v in (y, poisoned):
        d = make_data(v, freq="h")
        p = Protocol("x", lookback=6, horizon=3, scaler="none").fit(d)
        arima, var = ARIMA(order=(1, 0, 1)).fit(d, p), VAR(p=2).fit(d, p)
        fits.append((arima.phi, arima.theta, arima.mu, var.coefs, var.intercept))
    for before, after in zip(*fits, strict=True):
        np.testing.assert_array_equal(before, after)


def test_max_train_bounds_the_fitting_steps():
    y = arma(300, [0.5], [], nodes=1, seed=4)
    early = y.copy()
    early[:100] += 50.0  # outside the last max_train training steps
    p = Protocol("x", lookback=6, horizon=3, scaler="none")
    fits = [
        VAR(p=1, max_train=100).fit(make_data(v), p.fit(make_data(v))).coefs for v in (y, early)
    ]
    np.testing.assert_array_equal(*fits)


def test_missing_nodes_and_windows_give_finite_metrics(tiny_traffic):
    d = tiny_traffic
    mask = d.mask.clone()
    mask[:, 0] = False  # a node never observed
    mask[700:760] = False  # every node missing over whole test windows
    mask[::7, 1] = False  # scattered gaps
    d = make_data(d.values[:, :6].numpy(), mask=mask[:, :6].numpy(), freq="5min")
    p = Protocol("x", lookback=12, horizon=6, scaler="none").fit(d)
    for base in (ARIMA(order=(1, 1, 1), max_train=300), VAR(p=2)):
        res = evaluate_forecaster(base.fit(d, p).predict, p.windows(d, "test"), 128)
        assert np.isfinite(res["overall"]["mae"]) and np.isfinite(res["overall"]["rmse"])
        pred = base.predict(all_windows(d, p))
        assert torch.isfinite(pred).all()
        torch.testing.assert_close(pred[:, :, 0], base.node_mean[0].expand_as(pred[:, :, 0]))


def test_fill_windows_carries_last_observation():
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]]).view(1, 4, 1).repeat(1, 1, 3)
    m = torch.tensor([[0, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]], dtype=torch.bool).T[None]
    out = fill_windows(x, m, torch.tensor([9.0, 9.0, 9.0]))
    assert out[0].T.tolist() == [[2.0, 2.0, 2.0, 2.0], [1.0, 2.0, 3.0, 4.0], [9.0] * 4]


def test_deseasonalize_removes_the_climatology():
    # daily data: a weekly pattern plus AR(1) noise; the residual model wins
    week = np.array([0.0, 5.0, 9.0, 4.0, -3.0, -6.0, 1.0])[:, None]
    y = np.tile(week, (120, 2)) + arma(840, [0.7], [], nodes=2, seed=5)
    d = make_data(y, freq="D")
    p = Protocol("x", lookback=14, horizon=3, scaler="none").fit(d)
    assert mae(VAR(p=1, deseasonalize=True), d, p) < 0.8 * mae(VAR(p=1), d, p)


def test_registered_by_name_and_kept_out_of_every_run():
    assert get_baseline("arima") is ARIMA and get_baseline("var") is VAR
    assert get_baseline("last_value") is LastValue
    assert "arima" not in BASELINES and "var" not in BASELINES
    with pytest.raises(KeyError, match="unknown baseline"):
        get_baseline("prophet")


def test_clear_errors(monkeypatch):
    d = make_data(arma(200, [0.5], [], nodes=3))
    p = Protocol("x", lookback=6, horizon=3, scaler="none").fit(d)
    with pytest.raises(ValueError, match="max_regressors"):
        VAR(p=2, max_regressors=5).fit(d, p)
    with pytest.raises(ValueError, match="too short"):
        ARIMA(order=(6, 1, 0)).fit(d, p)
    monkeypatch.setitem(sys.modules, "statsmodels.tsa.arima.model", None)
    with pytest.raises(ImportError, match=r"stgraph-toolkit\[stats\]"):
        ARIMA().fit(d, p)
    VAR(p=1).fit(d, p)  # the VAR needs no statsmodels
