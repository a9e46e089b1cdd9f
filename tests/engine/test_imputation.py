"""Imputation: evaluation masks (seeded, observed entries only), scores on hidden entries
only, the simple methods on hand cases, a tiny end-to-end run with the learned imputer,
and the CLI."""

from __future__ import annotations

import pytest
import torch

from stgraph.cli import main
from stgraph.data import SpatioTemporalData
from stgraph.data.io.cards import card_protocol
from stgraph.data.nodesplit import hide_entries
from stgraph.data.splits import bounds_from_fractions
from stgraph.engine.config import TrainConfig
from stgraph.engine.imputation import (
    IMPUTATION_METHODS,
    block_mask,
    evaluate_imputation,
    interpolate_time,
    point_mask,
)


@pytest.fixture(scope="module")
def short(tiny_traffic):
    """The first day of ``tiny_traffic`` (T = 288, about 15 % missing)."""
    d = tiny_traffic
    return SpatioTemporalData(
        d.values[:288], d.mask[:288], d.timestamps[:288], d.graph, name=d.name
    )


# ---------------------------------------------------------------------------- masks
@pytest.mark.parametrize(
    "make", [lambda m, s: point_mask(m, 0.3, s), lambda m, s: block_mask(m, 0.01, 3, 6, 0.05, s)]
)
def test_masks_are_seeded_and_observed_only(short, make):
    a, b, c = make(short.mask, 1), make(short.mask, 1), make(short.mask, 2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.any() and not (a & ~short.mask).any()


def test_point_mask_share():
    mask = torch.ones(200, 10, 2, dtype=torch.bool)
    assert 0.27 < point_mask(mask, 0.3, 0).float().mean() < 0.33


def test_block_mask_hides_runs_of_steps():
    mask = torch.ones(500, 4, 1, dtype=torch.bool)
    hidden = block_mask(mask, p_fault=0.01, min_len=5, max_len=5, p_point=0.0, seed=0)
    # without point noise every hidden run is a failure of >= 5 consecutive steps
    for n in range(4):
        col = hidden[:, n, 0].int()
        edges = torch.diff(
            torch.cat([torch.zeros(1, dtype=torch.int32), col, torch.zeros(1, dtype=torch.int32)])
        )
        starts, ends = torch.nonzero(edges == 1)[:, 0], torch.nonzero(edges == -1)[:, 0]
        assert len(starts) > 0 and ((ends - starts) >= 5).all()


def test_hide_entries(short):
    hidden = point_mask(short.mask, 0.3, 0)
    with pytest.raises(ValueError, match="expected"):
        hide_entries(short, hidden[:10])
    v = hide_entries(short, hidden)
    assert not (v.mask & hidden).any() and (v.values[hidden] == 0).all()
    assert torch.equal(v.mask | hidden, short.mask)


# ---------------------------------------------------------------------------- methods
def test_interpolate_time_by_hand():
    values = torch.tensor([0.0, 2.0, 0.0, 0.0, 8.0, 0.0]).view(6, 1, 1)
    mask = torch.tensor([False, True, False, False, True, False]).view(6, 1, 1)
    out = interpolate_time(values, mask, torch.zeros(1, 1))
    assert out.view(-1).tolist() == pytest.approx([2.0, 2.0, 4.0, 6.0, 8.0, 8.0])
    never = interpolate_time(values, torch.zeros_like(mask), torch.full((1, 1), 5.0))
    assert (never == 5.0).all()


def test_scores_cover_hidden_entries_only(short):
    hidden = point_mask(short.mask, 0.3, 0)
    res = evaluate_imputation(short, hidden, methods=["node_mean", "interpolation"], split="all")
    n = int((hidden & short.mask).sum())
    assert all(r["count"] == n for r in res.metrics["results"].values())
    # a series whose hidden entries equal their node's visible training mean scores 0 for
    # node_mean, whatever the (visible) rest: only hidden entries are scored
    visible = hide_entries(short, hidden)
    split = card_protocol(short.name).get("split", (0.7, 0.1, 0.2))
    end = bounds_from_fractions(short.num_steps, tuple(split)).train_end
    cnt = visible.mask[:end].sum(0).clamp_min(1)
    mean = (visible.values[:end] * visible.mask[:end]).sum(0) / cnt
    values = torch.where(hidden, mean.expand_as(short.values), short.values)
    exact = SpatioTemporalData(values, short.mask, short.timestamps, short.graph, name=short.name)
    res = evaluate_imputation(exact, hidden, methods=["node_mean"], split="all")
    assert res.metrics["results"]["node_mean"]["mae"] == pytest.approx(0.0, abs=1e-4)
    assert (
        evaluate_imputation(short, hidden, methods=["node_mean"], split="all").metrics["results"][
            "node_mean"
        ]["mae"]
        > 0.1
    )


def test_unknown_method_and_empty_split_are_refused(short):
    hidden = point_mask(short.mask, 0.3, 0)
    with pytest.raises(ValueError, match="krige"):
        evaluate_imputation(short, hidden, methods=["krige"])
    with pytest.raises(ValueError, match="hides no observed entry"):
        evaluate_imputation(short, torch.zeros_like(hidden), methods=["node_mean"])


def test_tiny_imputation_run_all_methods(short):
    hidden = point_mask(short.mask, 0.25, 0)
    res = evaluate_imputation(
        short,
        hidden,
        window=12,
        hparams={"hidden": 8},
        train=TrainConfig(epochs=1, max_batches=2, batch_size=16, progress=False),
    )
    rows = res.metrics["results"]
    assert list(rows) == list(IMPUTATION_METHODS)
    assert all(r["mae"] is not None and r["mae"] >= 0 for r in rows.values())
    assert len({r["count"] for r in rows.values()}) == 1
    assert res.metrics["training"]["learned"]["epochs"] == 1
    for name in IMPUTATION_METHODS:
        assert name in res.table


def test_cli_impute_happy_path_and_bad_mask(capsys, data_root):
    args = ["impute", "noaa-weather", "--methods", "node_mean", "idw", "--data-dir", str(data_root)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "idw" in out and "node_mean" in out
    assert main([*args, "--mask", "official"]) == 2
    assert "aqi36 only" in capsys.readouterr().err
