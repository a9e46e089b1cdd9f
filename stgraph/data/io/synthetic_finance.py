"""``synthetic-finance``: a daily panel of asset returns and realised volatilities, generated
by stgraph.

It is synthetic (no real market data) and mimics an equity panel: assets in sectors, returns
from a factor model (market + sector factors + idiosyncratic noise) whose variances follow
GARCH(1,1) recursions (volatility clustering), and each day's realised volatility computed
from simulated intraday returns. Returns are unpredictable by construction (conditional
mean zero); volatility persists and is forecastable. stgraph's calendar has no business-day
frequency, so the series is on calendar days (``"D"``) with weekends, exchange holidays and
trading halts missing (zeros + mask). Deterministic from its seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from stgraph.data.io.registry import register_dataset
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.graph import SensorGraph

GRAPHS = ("sector", "correlation")


@dataclass(frozen=True)
class SyntheticFinanceConfig:
    """Generator settings.

    Args:
        assets: number of assets ``N``.
        sectors: number of sectors (assets are dealt to them in turn).
        days: length in calendar days.
        intraday: intraday returns per trading day behind the realised volatility.
        halts_per_asset: mean trading halts (1-5 trading days each) per asset.
        graph: ``"sector"`` (an edge between every two assets of a sector, weight 1) or
            ``"correlation"`` (each asset linked to the ``corr_k`` assets whose daily
            returns correlate most with its own over the first ``train_fraction`` of the
            days only, weight = the correlation; no look-ahead into validation or test).
        corr_k: neighbours per asset of the correlation graph.
        train_fraction: share of the days the correlation graph may look at (the card's
            training split).
        holidays: ``"MM-DD"`` exchange holidays in every year covered.
        seed: random seed (the dataset is a pure function of the config).
    """

    assets: int = 40
    sectors: int = 5
    days: int = 1092
    intraday: int = 78
    halts_per_asset: float = 0.5
    graph: str = "sector"
    corr_k: int = 5
    train_fraction: float = 0.7
    holidays: tuple[str, ...] = ("01-01", "05-01", "12-24", "12-25", "12-26", "12-31")
    seed: int = 0
    start: str = "2021-01-04"  # a Monday


def garch_variances(
    shocks: np.ndarray, var: np.ndarray, alpha: np.ndarray, beta: np.ndarray
) -> np.ndarray:
    r"""Conditional variances of GARCH(1,1) series (Bollerslev, J. Econometrics 1986) driven
    by standard-normal daily shocks :math:`z_t`, started at the unconditional variance:

    .. math::
        r_t = \sqrt{h_t}\, z_t, \qquad
        h_{t+1} = \bar h\,(1 - \alpha - \beta) + \alpha\, r_t^2 + \beta\, h_t

    Args:
        shocks: :math:`z_t`.
        var: unconditional variances :math:`\bar h` (requires :math:`\alpha + \beta < 1`).
        alpha, beta: GARCH coefficients per series.

    Shapes:
        shocks: [D, K]; var, alpha, beta: [K] -> output: [D, K]
    """
    if np.any(alpha + beta >= 1):
        raise ValueError("garch_variances: alpha + beta must be < 1 for every series")
    h = np.empty_like(shocks)
    h[0] = var
    omega = var * (1 - alpha - beta)
    for t in range(1, len(shocks)):
        h[t] = omega + alpha * h[t - 1] * shocks[t - 1] ** 2 + beta * h[t - 1]
    return h


def _trading_days(cfg: SyntheticFinanceConfig) -> tuple[pd.DatetimeIndex, np.ndarray]:
    ts = pd.date_range(cfg.start, periods=cfg.days, freq="D")
    holiday = np.isin(ts.strftime("%m-%d"), list(cfg.holidays))
    return ts, (ts.day_of_week.to_numpy() < 5) & ~holiday


def _factor_returns(
    cfg: SyntheticFinanceConfig, n_days: int, sector: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Daily returns and realised volatilities (in %) of every asset on the trading days,
    and each asset's market beta.

    Shapes:
        sector: [N] -> ([D, N], [D, N], [N])
    """
    n, s, m = cfg.assets, cfg.sectors, cfg.intraday
    k = 1 + s + n  # market, sectors, idiosyncratic
    var = np.r_[1.0, np.full(s, 0.9), np.full(n, 1.3)] ** 2  # daily % std squared
    alpha = rng.uniform(0.08, 0.12, k)
    beta = rng.uniform(0.84, 0.87, k)
    intra = rng.normal(0.0, 1.0 / np.sqrt(m), (n_days, m, k))
    h = garch_variances(intra.sum(1), var, alpha, beta)
    series = intra * np.sqrt(h)[:, None, :]  # [D, m, K] intraday returns of every series
    b_mkt = rng.uniform(0.7, 1.3, n)
    b_sec = rng.uniform(0.6, 1.2, n)
    asset = (
        b_mkt * series[..., :1] + b_sec * series[..., 1 + sector] + series[..., 1 + s :]
    )  # [D, m, N]
    return asset.sum(1), np.sqrt((asset**2).sum(1)), b_mkt


def _graph(
    cfg: SyntheticFinanceConfig, ids: list[str], sector: np.ndarray, returns: np.ndarray
) -> SensorGraph:
    """The sector or training-period correlation graph (see :class:`SyntheticFinanceConfig`).

    Shapes:
        returns: [D_train, N] daily returns (0 on halts) on the training period's trading days
    """
    n = cfg.assets
    if cfg.graph == "sector":
        w = (sector[:, None] == sector[None, :]).astype(float)
    else:
        corr = np.corrcoef(returns.T)
        np.fill_diagonal(corr, -np.inf)
        top = np.argsort(-corr, axis=1)[:, : cfg.corr_k]
        w = np.zeros((n, n))
        rows = np.repeat(np.arange(n), cfg.corr_k)
        w[rows, top.ravel()] = np.maximum(corr[rows, top.ravel()], 1e-3)
        w = np.maximum(w, w.T)
    np.fill_diagonal(w, 0.0)
    return SensorGraph.from_dense(w, ids, directed=False, name=f"synthetic-finance-{cfg.graph}")


def generate_synthetic_finance(cfg: SyntheticFinanceConfig | None = None) -> SpatioTemporalData:
    r"""Generate the ``synthetic-finance`` panel (daily return and realised volatility, in %).

    Intraday return :math:`k` of day :math:`t` of asset :math:`i` in sector :math:`s(i)`:

    .. math::
        r_{i,t,k} = \beta_i\, f^{mkt}_{t,k} + \gamma_i\, f^{s(i)}_{t,k} + \epsilon_{i,t,k},
        \qquad r_{i,t} = \sum_k r_{i,t,k}, \qquad RV_{i,t} = \sqrt{\textstyle\sum_k
        r_{i,t,k}^2}

    where the market factor, each sector factor and each idiosyncratic term is a GARCH(1,1)
    series (:func:`garch_variances`; daily standard deviations 1%, 0.9% and 1.3%) split into
    ``intraday`` Gaussian increments, :math:`\beta_i \sim U(0.7, 1.3)`,
    :math:`\gamma_i \sim U(0.6, 1.2)`. Weekends, ``holidays`` and trading halts are missing.

    Args:
        cfg: generator settings (default: 40 assets in 5 sectors, 1,092 days from 2021-01-04).

    Shapes:
        values, mask: [T, N, 2] with T = days (features: return, realised_vol)
    """
    cfg = cfg or SyntheticFinanceConfig()
    if cfg.graph not in GRAPHS:
        raise ValueError(f"synthetic-finance: graph must be one of {GRAPHS}, got {cfg.graph!r}")
    if not 1 <= cfg.sectors <= cfg.assets or cfg.corr_k >= cfg.assets:
        raise ValueError(
            f"synthetic-finance: need 1 <= sectors <= assets and corr_k < assets, got "
            f"sectors={cfg.sectors}, assets={cfg.assets}, corr_k={cfg.corr_k}"
        )
    if not 0 < cfg.train_fraction <= 1:
        raise ValueError(
            f"synthetic-finance: train_fraction must be in (0, 1], got {cfg.train_fraction}"
        )
    rng = np.random.default_rng(cfg.seed)
    ts, trading = _trading_days(cfg)
    n = cfg.assets
    sector = np.arange(n) % cfg.sectors
    ret, rv, b_mkt = _factor_returns(cfg, int(trading.sum()), sector, rng)

    mask = np.zeros((len(ts), n), dtype=bool)
    mask[trading] = True
    day_rows = np.flatnonzero(trading)
    for _ in range(rng.poisson(cfg.halts_per_asset * n)):
        j, i = rng.integers(0, len(day_rows)), rng.integers(0, n)
        mask[day_rows[j : j + int(rng.integers(1, 6))], i] = False
    values = np.zeros((len(ts), n, 2), dtype=np.float32)
    values[trading] = np.stack([ret, rv], -1)
    values[~mask] = 0.0

    ids = [f"A{i:02d}" for i in range(n)]
    cut = int(cfg.train_fraction * len(ts))
    graph = _graph(cfg, ids, sector, values[:cut][trading[:cut], :, 0])
    nodes = pd.DataFrame(
        {"sector": [f"sector{s}" for s in sector], "market_beta": b_mkt},
        index=pd.Index(ids, name="node_id"),
    )
    return SpatioTemporalData(
        torch.from_numpy(values),
        torch.from_numpy(np.repeat(mask[..., None], 2, axis=-1)),
        ts,
        graph,
        ("return", "realised_vol"),
        nodes,
        name="synthetic-finance",
        units=("%", "%"),
        freq="D",
    )


@register_dataset(
    "synthetic-finance",
    "generated daily returns + realised volatility, 40 assets in 5 sectors (embedded, offline)",
)
def load_synthetic_finance(data_dir: str | Path | None = None, **config: Any) -> SpatioTemporalData:
    """Generate ``synthetic-finance`` (``data_dir`` is ignored: nothing is read from disk).

    Args:
        data_dir: unused.
        **config: overrides of :class:`SyntheticFinanceConfig`.

    Shapes:
        values: [T, N, 2] (default T = 1092, N = 40)
    """
    return generate_synthetic_finance(SyntheticFinanceConfig(**config))
