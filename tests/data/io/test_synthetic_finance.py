"""The generated synthetic-finance panel: deterministic, matches its card, weekends and
holidays missing, sector structure, volatility persistence and a look-ahead-free graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stgraph.data import load_dataset
from stgraph.data.io.cards import load_card
from stgraph.data.io.synthetic_finance import SyntheticFinanceConfig, generate_synthetic_finance


@pytest.fixture(scope="module")
def panel():
    return load_dataset("synthetic-finance")


def _trading_rows(d) -> np.ndarray:
    """Returns / realised vols on days when some asset traded (halts are 0)."""
    rows = d.mask[..., 0].any(1).numpy()
    return d.values[rows].numpy()


def test_default_panel_matches_its_card_and_is_deterministic(panel):
    card = load_card("synthetic-finance")
    assert tuple(panel.values.shape) == (card["steps"], card["nodes"], 2)
    assert panel.feature_names == tuple(card["features"]) and panel.freq_str == "D"
    assert panel.graph.num_edges == 280 and not panel.graph.isolated_nodes()
    again = load_dataset("synthetic-finance")
    assert torch.equal(panel.values, again.values) and torch.equal(panel.mask, again.mask)
    assert not torch.equal(panel.values, load_dataset("synthetic-finance", seed=1).values)
    assert torch.equal(panel.values[~panel.mask], torch.zeros(int((~panel.mask).sum())))


def test_weekends_and_holidays_are_missing_for_every_asset(panel):
    ts = panel.timestamps
    closed = (ts.day_of_week >= 5) | ts.strftime("%m-%d").isin(["12-25", "01-01"])
    assert not panel.mask[torch.from_numpy(np.asarray(closed))].any()
    open_days = panel.mask[torch.from_numpy(np.asarray(~closed))]
    assert 0.98 < float(open_days.float().mean()) < 1.0  # only a few trading halts
    assert 0.28 < panel.missing_fraction < 0.31


def test_sector_members_move_together(panel):
    r = _trading_rows(panel)[..., 0]
    corr = np.corrcoef(r.T)
    sector = panel.nodes["sector"].to_numpy()
    same = (sector[:, None] == sector[None, :]) & ~np.eye(len(sector), dtype=bool)
    other = sector[:, None] != sector[None, :]
    assert corr[same].mean() > corr[other].mean() + 0.1


def test_volatility_persists_but_returns_do_not(panel):
    """Lag-1 autocorrelation over consecutive trading days (assets without a halt)."""
    vals = _trading_rows(panel)
    whole = panel.mask[panel.mask[..., 0].any(1)][..., 0].all(0).numpy()

    def lag1(x: np.ndarray) -> float:
        x = x - x.mean(0)
        return float(np.mean((x[1:] * x[:-1]).sum(0) / (x**2).sum(0)))

    assert lag1(vals[:, whole, 1]) > 0.3
    assert abs(lag1(vals[:, whole, 0])) < 0.1


def test_correlation_graph_sees_the_training_days_only():
    cfg = SyntheticFinanceConfig(graph="correlation", days=500, train_fraction=0.6)
    d = generate_synthetic_finance(cfg)
    cut = int(0.6 * 500)
    train = d.values[:cut][d.mask[:cut, :, 0].any(1)][..., 0].numpy()
    corr = np.corrcoef(train.T)
    np.fill_diagonal(corr, -np.inf)
    top = np.argsort(-corr, axis=1)[:, : cfg.corr_k]
    adj = d.graph.to_dense() > 0
    assert all(adj[i, top[i]].all() for i in range(cfg.assets))
    want = np.zeros_like(adj)
    want[np.repeat(np.arange(cfg.assets), cfg.corr_k), top.ravel()] = True
    assert np.array_equal(adj, want | want.T)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="graph must be one of"):
        generate_synthetic_finance(SyntheticFinanceConfig(graph="knn"))
