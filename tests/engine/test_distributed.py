"""Data-parallel training on loopback (gloo): 2 processes with the same global batch train
like 1 process, metric sums are reduced exactly, only rank 0 writes, a 2-process run
resumes in 1 process, and bad process counts are refused with a clear error.

Each launch starts two Python processes (seconds of imports each), so the 2-process runs
are shared by the tests through module-scoped fixtures.
"""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist

from stgraph._threads import available_cores
from stgraph.cli import main
from stgraph.engine import (
    ConfigError,
    Forecaster,
    MetricAccumulator,
    RunConfig,
    TrainConfig,
    Trainer,
    train_run,
)
from stgraph.engine.distributed import DistContext, reduce_metrics
from stgraph.engine.launch import check_nproc, launch, train_distributed
from stgraph.engine.rundir import load_checkpoint

pytestmark = pytest.mark.skipif(
    not dist.is_available(), reason="torch.distributed is not available in this build"
)

# No dropout (each rank draws its own masks) and a smooth loss: the masked MAE's gradient
# sign(pred - y) jumps where float rounding moves a prediction across its target, which
# AdamW then amplifies; MSE keeps two runs within float32 rounding of each other.
CONFIG = RunConfig.create(
    "tiny",
    "stcn",
    hparams={"dim": 8, "dropout": 0.0},
    protocol={"lookback": 12, "horizon": 3},
    train=TrainConfig(
        epochs=2, batch_size=15, max_batches=4, loss="mse", patience=5, progress=False, seed=3
    ),
)
HORIZON = 3


def _close_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    """Equal up to float32 rounding compounded over 8 AdamW steps: 1e-4 of each tensor's
    scale (a wrong gradient average moves them by 1e-2 and more)."""
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k] - b[k]).abs().max() <= 1e-4 * a[k].abs().max().clamp_min(1e-3), k


def _assert_metrics_close(a: dict, b: dict, rel: float) -> None:
    """Same counts and MAE / RMSE / MAPE within ``rel``, overall and at every step."""
    pairs = [(a["overall"], b["overall"])]
    pairs += [(a["horizons"][h], b["horizons"][h]) for h in a["horizons"]]
    for ma, mb in pairs:
        assert ma["count"] == mb["count"]
        for m in ("mae", "rmse", "mape"):
            assert mb[m] == pytest.approx(ma[m], rel=rel)


def _metric_batches() -> list[tuple[torch.Tensor, ...]]:
    """Four windows ``[1, H, 5, 2]`` of predictions, targets and masks; the last is entirely
    missing and some targets are zero (MAPE skips them)."""
    g = torch.Generator().manual_seed(0)
    out = []
    for i in range(4):
        pred, y = torch.randn(2, 1, HORIZON, 5, 2, generator=g)
        y[..., 0, 0] = 0.0
        mask = torch.rand(1, HORIZON, 5, 2, generator=g) > (1.0 if i == 3 else 0.3)
        out.append((pred, y, mask))
    return out


def _accumulate(batches: list[tuple[torch.Tensor, ...]]) -> MetricAccumulator:
    acc = MetricAccumulator(HORIZON)
    for pred, y, mask in batches:
        acc.update(pred, y, mask)
    return acc


def _trainer(data, folder) -> Trainer:
    return Trainer(Forecaster.build(CONFIG, data), data, CONFIG.train, folder)


def _outcome(trainer: Trainer) -> tuple[dict[str, torch.Tensor], list[float]]:
    """Final weights and validation MAE per epoch."""
    return trainer.model.state_dict(), [h["val_mae"] for h in trainer.history]


def _assert_same_outcome(a: tuple, b: tuple) -> None:
    _close_weights(a[0], b[0])
    assert b[1] == pytest.approx(a[1], rel=1e-5)


def _ranks_job(ctx: DistContext, data, base) -> dict:
    """In each of 2 ranks: reduce metrics over uneven shards (rank 0: three windows, rank 1:
    the all-missing one); train 1 of 2 epochs with a run directory of its own; resume the
    1-process run in ``base / "one"`` (stopped after epoch 1) and finish it."""
    mine = _metric_batches()[:3] if ctx.rank == 0 else _metric_batches()[3:]
    acc = _accumulate(mine)
    reduce_metrics(acc, ctx)
    metrics = acc.compute()
    trainer = _trainer(data, base / f"rank{ctx.rank}")
    trainer.fit(until_epoch=1)
    val = trainer.validate()
    same = [ctx.broadcast(x) == x for x in (metrics, val, trainer.history)]
    agree = ctx.all_reduce(torch.tensor([float(all(same))]))
    resumed = _trainer(data, base / ("one" if ctx.is_writer else "one-rank1"))
    resumed.resume()
    resumed.fit()
    return {
        "metrics": metrics,
        "all_ranks_agree": float(agree) == ctx.world_size,
        "resumed": _outcome(resumed),
    }


@pytest.fixture
def one_thread():
    """One CPU thread, as each worker has: the same arithmetic in the reference run."""
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def full_run(tiny_traffic, tmp_path_factory):
    """The uninterrupted 1-process run (one thread, as each worker)."""
    torch.set_num_threads(1)
    trainer = _trainer(tiny_traffic, tmp_path_factory.mktemp("full"))
    trainer.fit()
    return _outcome(trainer)


@pytest.fixture(scope="module")
def ranks(tiny_traffic, tmp_path_factory):
    base = tmp_path_factory.mktemp("ranks")
    torch.set_num_threads(1)
    _trainer(tiny_traffic, base / "one").fit(until_epoch=1)
    return launch(_ranks_job, 2, tiny_traffic, base, threads=1), base


@pytest.fixture(scope="module")
def one_and_two(tiny_traffic, tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    torch.set_num_threads(1)  # as each worker (the autouse fixture restores it)
    one = train_run(CONFIG, data=tiny_traffic, out=base / "one")
    two = train_distributed(CONFIG, 2, data=tiny_traffic, out=base / "two", threads=1)
    return one, two


@pytest.mark.slow
def test_two_processes_train_like_one_with_the_same_global_batch(one_and_two):
    one, two = one_and_two
    _assert_metrics_close(one.metrics, two.metrics, rel=1e-5)
    assert two.metrics["best_val_mae"] == pytest.approx(one.metrics["best_val_mae"], rel=1e-5)
    wa = load_checkpoint(one.run_dir / "model.pt")
    wb = load_checkpoint(two.run_dir / "model.pt")
    _close_weights(wa, wb)
    assert "module." not in "".join(wb)  # a plain state_dict: resumable by any process count


@pytest.mark.slow
def test_the_two_process_run_directory_is_written_once(one_and_two):
    one, two = one_and_two
    assert sorted(p.name for p in two.run_dir.iterdir()) == sorted(
        p.name for p in one.run_dir.iterdir()
    )
    log = (two.run_dir / "train.log").read_text().splitlines()
    assert [line.split()[1] for line in log] == ["1/2", "2/2"]  # one line per epoch


@pytest.mark.slow
def test_metric_sums_are_reduced_exactly_over_uneven_shards(ranks):
    result, _ = ranks
    _assert_metrics_close(_accumulate(_metric_batches()).compute(), result["metrics"], 1e-12)
    # an average of the two ranks' averages would not match: rank 1 saw nothing
    assert result["all_ranks_agree"]


@pytest.mark.slow
def test_only_rank_0_writes_and_two_processes_resume_in_one(
    ranks, full_run, tiny_traffic, one_thread
):
    _, base = ranks
    assert not any((base / "rank1").iterdir())  # rank 1 had a folder and wrote nothing
    assert {p.name for p in (base / "rank0").iterdir()} == {"best.pt", "last.pt", "train.log"}
    resumed = _trainer(tiny_traffic, base / "rank0")
    resumed.resume()
    assert resumed.epoch == 1
    resumed.fit()
    _assert_same_outcome(full_run, _outcome(resumed))


@pytest.mark.slow
def test_one_process_resumes_in_two(ranks, full_run):
    result, base = ranks
    _assert_same_outcome(full_run, result["resumed"])
    assert not any((base / "one-rank1").iterdir())
    log = (base / "one" / "train.log").read_text().splitlines()
    assert [line.split()[1] for line in log] == ["1/2", "2/2"]


@pytest.mark.slow
def test_a_worker_error_is_raised_once_in_the_caller(tiny_traffic, tmp_path):
    (tmp_path / "notes.txt").write_text("not a run")
    with pytest.raises(ConfigError, match=r"already exists"):
        train_distributed(CONFIG, 2, data=tiny_traffic, out=tmp_path, threads=1)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("nproc", [0, -2, True, 1.5])
def test_bad_process_counts_are_refused(nproc):
    with pytest.raises(ConfigError, match=r"--nproc must be an integer >= 1"):
        check_nproc(nproc)


def test_process_counts_beyond_the_machine_are_refused():
    assert check_nproc(1, "meta") == 1
    with pytest.raises(ConfigError, match=r"at most"):
        check_nproc(available_cores() + 1)
    with pytest.raises(ConfigError, match=r"supports cpu \(gloo\) and cuda \(nccl\)"):
        check_nproc(2, "meta")


@pytest.mark.parametrize("nproc", ["0", "-1", "100000"])
def test_cli_refuses_a_bad_nproc_in_one_line(nproc, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--dataset", "synthetic-traffic", "--model", "stcn", "--out", str(out)]
    assert main([*args, "--nproc", nproc]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("stgraph: error: --nproc")
    assert not out.exists()


def test_a_series_directory_trains_by_path_on_two_processes(tiny_traffic, tmp_path):
    """``--dataset PATH`` of a series directory: every worker opens it by that name (the
    registration of the parent process does not reach spawned workers)."""
    import json
    import subprocess
    import sys

    from stgraph.data import write_series

    series, out = tmp_path / "series", tmp_path / "run"
    write_series(tiny_traffic, series, graph=tiny_traffic.graph)
    args = ["train", "--dataset", str(series), "--model", "stcn", "--set", "dim=8"]
    args += ["--epochs", "1", "--max-batches", "2", "--batch-size", "8", "--lookback", "12"]
    args += ["--horizon", "3", "--threads", "1", "--nproc", "2", "--out", str(out)]
    res = subprocess.run(
        [sys.executable, "-m", "stgraph.cli", *args], capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads((out / "config.json").read_text())["dataset"] == str(series)
    assert json.loads((out / "metrics.json").read_text())["overall"]["mae"] > 0
