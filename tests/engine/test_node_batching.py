"""Node-subgraph batching: training on node batches with halos, a loss on the core nodes only,
part-by-part evaluation equal to full-graph evaluation when the halo covers the model's
reach, and refusal of models that need every node."""

from __future__ import annotations

import math

import pytest
import torch

from stgraph.cli import main
from stgraph.engine import ConfigError, Forecaster, RunConfig, TrainConfig, Trainer
from stgraph.engine.metrics import masked_mae
from stgraph.engine.nodebatch import NodeBatcher
from stgraph.models import list_models


@pytest.fixture(autouse=True)
def _one_thread():
    """These models are tiny: one thread is fastest and unaffected by a busy neighbour (the
    suite's fixture restores the pinned count afterwards)."""
    torch.set_num_threads(1)


PROTOCOL = {"lookback": 12, "horizon": 3}
# one symmetric-normalised GCN layer: its output reads 1 hop of inputs and 2 hops of degrees
GCN1 = {"dim": 16, "conv_layers": 1}


def _forecaster(data, model="cnn-lstm", hparams=GCN1, **train):
    cfg = TrainConfig(epochs=1, batch_size=16, max_batches=4, progress=False, **train)
    config = RunConfig.create("tiny", model, hparams=hparams, protocol=PROTOCOL, train=cfg)
    return Forecaster.build(config, data)


def _batch(fc, data, n=8):
    return fc.protocol.windows(data, "train").batch(torch.arange(n))


def test_node_batch_training_runs_on_subgraphs_and_its_loss_falls(tiny_traffic, tmp_path):
    train = {"node_batch": 7, "halo_hops": 1, "lr": 1e-2, "warmup_epochs": 0}
    fc = _forecaster(tiny_traffic, "stcn", {"dim": 16, "layers": 2, "dropout": 0.0}, **train)
    held = fc.protocol.windows(tiny_traffic, "train").batch(torch.arange(0, 591, 5))
    before = fc.loss(held, masked_mae).item()  # full graph, all nodes
    seen: list[int] = []
    fc.model.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[2]))
    cfg = TrainConfig(epochs=2, batch_size=16, max_batches=6, progress=False, **train)
    trainer = Trainer(fc, tiny_traffic, cfg, tmp_path)
    trainer.fit()
    assert max(seen) < tiny_traffic.num_nodes  # every step (and validation) saw a subgraph
    losses = [h["train_loss"] for h in trainer.history]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < 0.8 * losses[0]
    assert fc.loss(held, masked_mae).item() < 0.6 * before


def test_loss_ignores_halo_only_targets(tiny_traffic):
    fc = _forecaster(tiny_traffic, node_batch=7, halo_hops=2)
    nb = fc.node_batcher
    assert nb is not None
    halo = nb.part_halos[0]
    halo_only = halo.nodes[~halo.core]
    assert halo_only.numel() > 0
    batch = _batch(fc, tiny_traffic)
    torch.manual_seed(0)
    clean = fc.loss(batch, masked_mae, graph=halo)
    batch.y[:, :, halo_only] = float("nan")  # poisoned, yet observed
    batch.y_mask[:, :, halo_only] = True
    poisoned = fc.loss(batch, masked_mae, graph=halo)
    assert torch.isfinite(poisoned) and torch.equal(clean, poisoned)
    core = halo.nodes[halo.core_pos]
    batch.y[:, :, core[:1]] = float("nan")  # the check can fail: a core target counts
    assert torch.isnan(fc.loss(batch, masked_mae, graph=halo))


def _overall(fc, data):
    return fc.evaluate(data, "test", batch_size=64)["model"]


def test_part_by_part_evaluation_equals_full_graph_evaluation(tiny_traffic):
    fc = _forecaster(tiny_traffic, node_batch=7, halo_hops=2)
    nb = fc.node_batcher
    assert nb is not None and len(nb.parts) == 4
    assert all(h.num_nodes < tiny_traffic.num_nodes for h in nb.part_halos)
    parts = _overall(fc, tiny_traffic)
    fc.node_batcher = None  # the same weights, one full-graph forward per batch
    full = _overall(fc, tiny_traffic)
    for key in ("mae", "rmse"):
        assert parts["overall"][key] == pytest.approx(full["overall"][key], rel=1e-5, abs=1e-5)
        for h in full["horizons"]:
            got, want = parts["horizons"][h][key], full["horizons"][h][key]
            assert got == pytest.approx(want, rel=1e-5, abs=1e-5)
    assert parts["overall"]["count"] == full["overall"]["count"]
    # the comparison can fail: a halo smaller than the model's reach changes the forecasts
    fc.node_batcher = NodeBatcher.for_config(
        fc.graph, TrainConfig(node_batch=7, halo_hops=0), fc.model
    )
    short = _overall(fc, tiny_traffic)
    assert abs(short["overall"]["mae"] - full["overall"]["mae"]) > 1e-4


def test_eval_full_graph_setting_skips_the_parts(tiny_traffic):
    fc = _forecaster(tiny_traffic, node_batch=7, halo_hops=0, eval_full_graph=True)
    seen: list[int] = []
    fc.model.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[2]))
    fc.predict(_batch(fc, tiny_traffic, 2))
    assert seen == [tiny_traffic.num_nodes]


@pytest.mark.parametrize("partition", ["partition", "random"])
def test_every_node_is_a_core_node_once_per_cycle(tiny_traffic, partition):
    g = tiny_traffic.graph
    nb = NodeBatcher(g.edge_index, g.edge_weight, g.num_nodes, 6, partition, hops=1)
    stream = nb.stream(torch.Generator().manual_seed(0))
    cycle = [next(stream) for _ in range(math.ceil(g.num_nodes / 6))]
    cores = torch.cat([h.nodes[h.core_pos] for h in cycle])
    assert torch.equal(torch.sort(cores).values, torch.arange(g.num_nodes))


def test_resume_reproduces_node_batched_training(tiny_traffic, tmp_path):
    cfg = TrainConfig(
        epochs=2, batch_size=16, max_batches=2, progress=False, node_batch=7, halo_hops=1
    )

    def trainer(folder):
        return Trainer(
            _forecaster(tiny_traffic, node_batch=7, halo_hops=1), tiny_traffic, cfg, folder
        )

    full = trainer(tmp_path / "full")
    full.fit()
    part = trainer(tmp_path / "part")
    part.fit(until_epoch=1)
    resumed = trainer(tmp_path / "part")
    resumed.resume()
    resumed.fit()
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("stid", "identity per node"),
        ("agcrn", "adjacency over all N"),
        ("stgcn", "layer norms normalise over [N, C]"),
    ],
)
def test_models_with_per_node_state_are_refused_by_name(model, reason):
    with pytest.raises(ConfigError, match="node_batch") as err:
        RunConfig.create("tiny", model, protocol=PROTOCOL, train={"node_batch": 8})
    assert f"model {model!r}" in str(err.value) and reason in str(err.value)


def test_trainer_refuses_node_batching_for_a_model_that_needs_all_nodes(tiny_traffic, tmp_path):
    fc = _forecaster(tiny_traffic, "stid", {})  # built for full-graph training
    with pytest.raises(ConfigError, match="'stid' cannot train on node subgraphs"):
        Trainer(fc, tiny_traffic, TrainConfig(node_batch=8, progress=False), tmp_path)


def test_node_batch_settings_are_validated_and_round_trip():
    for bad, match in (
        ({"node_batch": 0}, "node_batch must be >= 1"),
        ({"node_partition": "metis"}, "node_partition 'metis' is not one of"),
        ({"halo_hops": -1}, "halo_hops must be >= 0"),
    ):
        with pytest.raises(ConfigError, match=match):
            TrainConfig(**bad)
    train = {"node_batch": 8, "node_partition": "random", "halo_hops": 1, "eval_full_graph": True}
    config = RunConfig.create("tiny", "dcrnn", protocol=PROTOCOL, train=train)
    again = RunConfig.from_dict(config.to_dict())
    assert again == config and again.train.node_partition == "random"


def test_cli_refuses_node_batching_for_a_per_node_model(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--dataset", "synthetic-traffic", "--model", "stid", "--node-batch", "8"]
    assert main([*argv, "--out", str(out)]) == 2
    assert "'stid' cannot train on node subgraphs" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    "model", [m.name for m in list_models() if m.capabilities.supports_node_batching]
)
def test_models_declaring_node_batching_have_no_per_node_state(tiny_traffic, model):
    """With a halo that reaches every node, each part runs on the whole graph renumbered
    (its own nodes first): a model that hides per-node parameters or reads node positions
    gives other forecasts, so the declaration is checked, not trusted."""
    fc = _forecaster(tiny_traffic, model, {}, node_batch=10, halo_hops=tiny_traffic.num_nodes)
    nb = fc.node_batcher
    assert nb is not None and all(h.num_nodes == tiny_traffic.num_nodes for h in nb.part_halos)
    assert not torch.equal(nb.part_halos[1].nodes, torch.arange(tiny_traffic.num_nodes))
    batch = _batch(fc, tiny_traffic, 2)
    torch.manual_seed(0)
    parts = fc.predict(batch)
    fc.node_batcher = None
    torch.testing.assert_close(parts, fc.predict(batch), rtol=1e-4, atol=1e-4)
