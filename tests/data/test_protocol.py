"""The protocol is saved as JSON and reproduces the same windows and scaler."""

from __future__ import annotations

import json

import pytest
import torch

from stgraph.data import Protocol


def test_protocol_json_round_trip_preserves_everything(tiny_traffic, tmp_path):
    p = Protocol("tiny", lookback=6, horizon=3, stride=2, scaler="minmax", seed=7).fit(tiny_traffic)
    p.save(tmp_path / "protocol.json")
    d = json.loads((tmp_path / "protocol.json").read_text())
    for key in (
        "split",
        "lookback",
        "horizon",
        "stride",
        "scaler",
        "scaler_state",
        "missing_rule",
        "metrics",
        "seed",
        "bounds",
    ):
        assert key in d
    q = Protocol.load(tmp_path / "protocol.json")
    assert q == p
    for split in ("train", "val", "test"):
        assert (
            q.windows(tiny_traffic, split).starts == p.windows(tiny_traffic, split).starts
        ).all()
    x = tiny_traffic.values[:5]
    assert torch.equal(q.get_scaler().transform(x), p.get_scaler().transform(x))


def test_unfitted_protocol_refuses_windows(tiny_traffic):
    with pytest.raises(RuntimeError, match="not fitted"):
        Protocol("tiny").windows(tiny_traffic, "train")
    with pytest.raises(ValueError, match="unknown keys"):
        Protocol.from_dict({"dataset": "x", "lokback": 3})


def test_date_split_overrides_fractions(tiny_traffic):
    p = Protocol("tiny", split_dates=("2024-01-02", "2024-01-03")).fit(tiny_traffic)
    assert p.bounds.train_end == 288 and p.bounds.val_end == 576
