"""Held-out stations: node split validation, no leakage of held-out values into the scaler,
inputs or loss, input dropout, the IDW input fill, model refusal, and a tiny end-to-end run
with its CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from stgraph.cli import main
from stgraph.data import SpatioTemporalData
from stgraph.data.nodesplit import hide_nodes, split_nodes
from stgraph.data.windows import Batch
from stgraph.engine.config import ConfigError, RunConfig, TrainConfig
from stgraph.engine.forecaster import Forecaster
from stgraph.engine.heldout import (
    IDW_ROWS,
    HeldOutForecaster,
    HeldOutWindows,
    IDWFill,
    NodeDropout,
    check_inductive,
    fit_heldout,
    heldout_run,
)
from stgraph.graph import SensorGraph
from stgraph.graph.idw import station_distances
from stgraph.models import ModelSpec

TINY = TrainConfig(epochs=1, max_batches=2, batch_size=16, progress=False)


@pytest.fixture(scope="module")
def short(tiny_traffic):
    """The first day of ``tiny_traffic`` (T = 288): enough windows in every split."""
    d = tiny_traffic
    return SpatioTemporalData(
        d.values[:288], d.mask[:288], d.timestamps[:288], d.graph, name=d.name
    )


# ---------------------------------------------------------------------------- node split
def test_split_by_ids_and_errors(tiny_traffic):
    g = tiny_traffic.graph
    ids = list(g.node_ids[:2])
    s = split_nodes(g, nodes=ids)
    assert s.held_out == tuple(ids) and len(s.observed) == g.num_nodes - 2
    assert set(s.held_out_index).isdisjoint(s.observed_index)
    with pytest.raises(ValueError, match="nope"):
        split_nodes(g, nodes=["nope"])
    with pytest.raises(ValueError, match="all 28 nodes"):
        split_nodes(g, nodes=list(g.node_ids))
    with pytest.raises(ValueError, match="no node"):
        split_nodes(g, nodes=[])
    with pytest.raises(ValueError, match="not both"):
        split_nodes(g, nodes=ids, fraction=0.2)
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match=r"\(0, 1\)"):
            split_nodes(g, fraction=bad)


def test_random_split_is_seeded(tiny_traffic):
    g = tiny_traffic.graph
    a, b = (split_nodes(g, fraction=0.25, seed=3) for _ in range(2))
    assert a == b and len(a.held_out) == 7
    assert split_nodes(g, fraction=0.25, seed=4).held_out != a.held_out


def test_block_split_is_a_region(tiny_traffic):
    g = tiny_traffic.graph
    s = split_nodes(g, fraction=0.25, method="block", seed=1)
    # the held-out nodes are the nearest to one of them: some held-out centre is closer to
    # every held-out node than to any observed node
    d = station_distances(g, s.held_out_index, range(g.num_nodes))
    centre_ok = [
        d[i, list(s.held_out_index)].max() <= d[i, list(s.observed_index)].min()
        for i in range(len(s.held_out))
    ]
    assert any(centre_ok)


def test_hide_nodes_hides_values_and_mask(tiny_traffic):
    s = split_nodes(tiny_traffic.graph, fraction=0.25, seed=0)
    h = hide_nodes(tiny_traffic, s)
    idx = list(s.held_out_index)
    assert not h.mask[:, idx].any() and (h.values[:, idx] == 0).all()
    keep = list(s.observed_index)
    assert torch.equal(h.mask[:, keep], tiny_traffic.mask[:, keep])


# ---------------------------------------------------------------------------- leakage
def _corrupt(data: SpatioTemporalData, idx: list[int]) -> SpatioTemporalData:
    """``data`` with huge values at nodes ``idx`` (observed there)."""
    v = data.values.clone()
    v[:, idx] = 1e6
    m = data.mask.clone()
    m[:, idx] = True
    return SpatioTemporalData(v, m, data.timestamps, data.graph, name=data.name)


def test_held_out_values_reach_neither_scaler_nor_training(short):
    s = split_nodes(short.graph, fraction=0.25, seed=0)
    config = RunConfig.create(short.name, "tgcn", hparams={"hidden": 8}, train=TINY)
    fits = []
    for data in (short, _corrupt(short, list(s.held_out_index))):
        fc, _ = fit_heldout(config, hide_nodes(data, s), s, input_drop=0.3)
        fits.append((fc.protocol.scaler_state, fc.model.state_dict()))
    (scaler_a, weights_a), (scaler_b, weights_b) = fits
    assert scaler_a == scaler_b
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)


def test_heldout_windows_hide_inputs_and_score_held_out_only(tiny_traffic):
    s = split_nodes(tiny_traffic.graph, fraction=0.25, seed=0)
    mask = s.node_mask(tiny_traffic.num_nodes)
    w = HeldOutWindows(tiny_traffic, np.arange(5), 12, 3, mask)
    b = w.batch(np.arange(5))
    assert not b.x_mask[:, :, mask].any() and (b.x[:, :, mask] == 0).all()
    assert not b.y_mask[:, :, ~mask].any()
    t = torch.arange(5)[:, None] + 12 + torch.arange(3)
    assert torch.equal(b.y_mask[:, :, mask], tiny_traffic.mask[t][:, :, mask])
    t_in = torch.arange(5)[:, None] + torch.arange(12)
    assert torch.equal(b.x[:, :, ~mask], tiny_traffic.values[t_in][:, :, ~mask])


# ---------------------------------------------------------------------------- input dropout
class _Echo(torch.nn.Module):
    def forward(self, x, edge_index, edge_weight, covariates):
        return x


def test_node_dropout_only_in_training_and_only_eligible_nodes():
    torch.manual_seed(0)
    eligible = torch.tensor([True, True, True, False])
    wrap = NodeDropout(_Echo(), 0.5, eligible)
    x = torch.ones(64, 3, 4, 2)
    out = wrap.train()(x, None, None, None)
    zeroed = (out == 0).all(-1).all(1)  # [B, N]: a node's whole window dropped together
    assert ((out == 0) | (out == 1)).all()
    assert not zeroed[:, 3].any()
    assert 0.3 < zeroed[:, :3].float().mean() < 0.7
    assert torch.equal(wrap.eval()(x, None, None, None), x)


# ---------------------------------------------------------------------------- IDW input fill
def _line_graph() -> SensorGraph:
    """Three nodes on a planar line: node 0 at x=0, node 1 at x=1, node 2 at x=2."""
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    return SensorGraph(list("abc"), np.zeros((2, 0), dtype=np.int64), coords=xy, crs="EPSG:32633")


def _batch(x: torch.Tensor) -> Batch:
    b, n = x.shape[0], x.shape[2]
    return Batch(
        x, torch.zeros(b, 1, n, 1), torch.ones_like(x, dtype=torch.bool),
        torch.ones(b, 1, n, 1, dtype=torch.bool), torch.zeros(b, 2, 1, 0), torch.arange(b),
    )  # fmt: skip


def test_idw_fill_is_exact_on_a_hand_case():
    # node 0 held out (its own observed value 1e6 must not count), sources at distances 1
    # and 2: weights 1 and 1/4 -> (10 * 1 + 20 / 4) / 1.25 = 12; node 0's own entry
    x = torch.tensor([1e6, 10.0, 20.0]).view(1, 1, 3, 1)
    out = IDWFill(_line_graph(), torch.tensor([True, False, False]))(_batch(x))
    assert out.x[0, 0, 0, 0].item() == pytest.approx(12.0)
    assert torch.equal(out.x[0, 0, 1:], x[0, 0, 1:]) and out.x_mask.all()
    # a missing source drops out of the weighted mean: only node 2 left
    b = _batch(x)
    b.x_mask[0, 0, 1] = False
    out = IDWFill(_line_graph(), torch.tensor([True, False, False]))(b)
    assert out.x[0, 0, 0, 0].item() == pytest.approx(20.0)
    assert not out.x_mask[0, 0, 1].any()


def test_dropped_nodes_are_filled_from_the_other_visible_nodes_only():
    torch.manual_seed(0)
    x = torch.tensor([1e6, 10.0, 20.0]).view(1, 1, 3, 1).expand(256, 2, 3, 1).clone()
    fill = IDWFill(_line_graph(), torch.tensor([True, False, False]), rate=0.5)
    assert torch.equal(fill(_batch(x), training=False).x, fill(_batch(x)).x)
    out = fill(_batch(x), training=True)
    # which nodes were hidden per window, from the fill: node 1 dropped alone leaves node 2
    # as the only source of nodes 0 and 1 (never node 1's own 10); both dropped: no source
    one_dropped = (out.x[:, :, 1] == 20.0).all(1).squeeze(-1)
    none = ~out.x_mask[:, :, 0].all(1).squeeze(-1)
    kept = (out.x[:, :, 1] == 10.0).all(1).squeeze(-1)
    assert (one_dropped | none | kept).all() and one_dropped.any() and kept.any()
    assert (out.x[one_dropped][:, :, 0] == 20.0).all()
    assert not out.x_mask[none].any() and (out.x[none] == 0).all()
    assert (out.x < 1e5).all()  # the held-out value never leaks
    assert 0.3 < (~kept).float().mean() < 0.7


def test_zero_fill_is_the_plain_node_dropout(short):
    s = split_nodes(short.graph, fraction=0.25, seed=0)
    config = RunConfig.create(short.name, "tgcn", hparams={"hidden": 8}, train=TINY)
    hidden = hide_nodes(short, s)
    zero, _ = fit_heldout(config, hidden, s, input_drop=0.3, input_fill="zero")
    idw, _ = fit_heldout(config, hidden, s, input_drop=0.3, input_fill="idw")
    ref = Forecaster.build(config, hidden)  # the original training: NodeDropout zeroes
    inner = ref.model
    ref.model = NodeDropout(inner, 0.3, ~s.node_mask(hidden.num_nodes))
    ref.fit(hidden, config.train)
    a, b, c = zero.model.state_dict(), inner.state_dict(), idw.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)  # the IDW fill changes training
    with pytest.raises(ConfigError, match="input_fill"):
        fit_heldout(config, hidden, s, input_fill="mean")


class _Record(torch.nn.Module):
    """Runs ``model`` and keeps the inputs it was given."""

    def __init__(self, model):
        super().__init__()
        self.model, self.inputs = model, []

    def forward(self, x, *args):
        self.inputs.append(x)
        return self.model(x, *args)


def test_prediction_reads_the_filled_held_out_inputs(short):
    s = split_nodes(short.graph, fraction=0.25, seed=0)
    held = s.node_mask(short.num_nodes)
    config = RunConfig.create(short.name, "tgcn", hparams={"hidden": 4}, train=TINY)
    fc = HeldOutForecaster.build(config, hide_nodes(short, s))
    fc.model = rec = _Record(fc.model)
    w = HeldOutWindows(short, np.arange(4), fc.protocol.lookback, fc.protocol.horizon, held)
    b = w.batch(np.arange(4))
    fc.predict(b)  # no filler: the plain forecaster, held-out inputs 0
    fc.filler = IDWFill(short.graph, held)
    fc.predict(b)
    plain, filled = rec.inputs
    assert (plain[:, :, held] == 0).all() and (filled[:, :, held] != 0).any()
    assert torch.equal(plain[:, :, ~held], filled[:, :, ~held])


# ---------------------------------------------------------------------------- model refusal
SPEC = ModelSpec(1, 1, 12, 3, 10, 2, 288)


@pytest.mark.parametrize(
    ("model", "why"),
    [
        ("astgcn", "per-node parameters"),
        ("gru", "uses_graph"),
        ("graph-wavenet", "adaptive_graph"),
    ],
)
def test_models_that_cannot_generalise_are_refused(model, why):
    with pytest.raises(ConfigError, match=why):
        check_inductive(model, SPEC)


def test_graph_convolution_model_is_accepted():
    check_inductive("tgcn", SPEC, {"hidden": 8})


# ---------------------------------------------------------------------------- end to end
def test_tiny_heldout_run(short, tmp_path):
    res = heldout_run(
        short.name,
        "tgcn",
        data=short,
        held_out=0.25,
        hparams={"hidden": 8},
        protocol_overrides={"horizon": 3},
        train=TINY,
        out=tmp_path,
    )
    rows = res.metrics["results"]
    assert list(rows) == ["tgcn", *IDW_ROWS]
    counts = {r["overall"]["count"] for r in rows.values()}
    # every row is scored on the same entries: the held-out nodes' observed test targets
    proto = RunConfig.create(short.name, "tgcn", protocol={"horizon": 3}).proto.fit(short)
    starts = torch.as_tensor(proto.windows(short, "test").starts)
    t = starts[:, None] + proto.lookback + torch.arange(3)
    expected = int(short.mask[t][:, :, list(res.split.held_out_index)].sum())
    assert counts == {expected} and expected > 0
    saved = json.loads((tmp_path / "heldout.json").read_text())
    assert saved["nodes"]["held_out"] == list(res.split.held_out)
    assert "idw_truth (oracle)" in res.table


def test_cli_heldout_happy_path_and_bad_node(capsys, data_root):
    args = ["heldout", "noaa-weather", "tgcn", "--data-dir", str(data_root), "--epochs", "1"]
    args += ["--max-batches", "1", "--set", "hidden=4", "--held-out", "0.1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "idw_last_value" in out and "held-out stations" in out
    assert main([*args[:-2], "--nodes", "no-such-station"]) == 2
    assert "no-such-station" in capsys.readouterr().err
