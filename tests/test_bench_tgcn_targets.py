"""The T-GCN paper's split and test targets: the exact windows, and the paper's HA row."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
import torch

from stgraph.engine import RunConfig

BENCH = Path(__file__).resolve().parents[1] / "tools" / "bench"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))  # the bench scripts import their neighbours
    return importlib.import_module("tgcn_targets"), importlib.import_module("accuracy")


def _zeros(batch):
    return torch.zeros_like(batch.y)


def test_scores_the_papers_windows_and_nothing_else(bench, tiny_traffic):
    targets, _ = bench
    data, seq_len, horizon = tiny_traffic, 4, 3
    val_start, test_start = targets.paper_split(data)
    t = data.num_steps
    assert data.timestamps.get_loc(test_start) == int(0.8 * t)
    protocol = RunConfig.create(
        "tiny",
        "stid",
        protocol={"lookback": 12, "horizon": horizon, "split_dates": (val_start, test_start)},
    ).proto.fit(data)
    res = targets.paper_scores(_zeros, data, protocol, seq_len, [1, 2, 3])
    first, last = int(0.8 * t) + seq_len, t - 2
    values, mask = data.values.double().numpy(), data.mask.numpy()
    for k in (1, 2, 3):  # brute force: windows i = 0 .. len(test) - seq_len - k - 1
        origins = range(first - 1, last - k + 1)
        err = [values[s + j][mask[s + j]] for s in origins for j in range(1, k + 1)]
        e = np.concatenate(err)
        got = res["paper_upto"][str(k)]
        assert got["count"] == e.size
        assert got["rmse"] == pytest.approx(float(np.sqrt((e**2).mean())), rel=1e-9)
        assert got["mae"] == pytest.approx(float(np.abs(e).mean()), rel=1e-9)
    # the per-step table covers the windows whose targets all lie in the range
    assert res["horizons"]["1"]["count"] == int(mask[first : last - horizon + 2].sum())


def test_reproduces_the_papers_historical_average_on_sz_taxi(bench, data_root):
    """The authors' HA baseline (mean of the 4 input steps, fed back for later steps) gives
    Table II's SZ-taxi row, RMSE 4.2951 and MAE 2.7815, on exactly these targets."""
    _, acc = bench
    data, overrides, _ = acc.setup("tgcn", "sz-taxi", str(data_root))

    def ha(batch):
        x, out = batch.x[:, -4:], []
        for _ in range(batch.y.shape[1]):
            out.append(x.mean(1, keepdim=True))
            x = torch.cat([x[:, 1:], out[-1]], 1)
        return torch.cat(out, 1)

    protocol = RunConfig.create("sz-taxi", "stid", protocol=overrides).proto.fit(data)
    res = acc.metrics(ha, data, protocol, paper=acc.paper_targets("tgcn", "sz-taxi"))
    first = res["paper_upto"]["1"]
    assert (round(first["rmse"], 4), round(first["mae"], 4)) == (4.2951, 2.7815)
    assert first["count"] == 591 * data.num_nodes
