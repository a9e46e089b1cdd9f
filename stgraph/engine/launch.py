"""Starting a data-parallel run: ``N`` local processes on loopback, or the processes
``torchrun`` started (one node or many); the training itself is in
:mod:`stgraph.engine.distributed`.

One machine::

    stgraph train --dataset NAME --model NAME --nproc 2 [--device cuda]

spawns two workers that meet on a free loopback port (a ``TCPStore`` the launching process
hosts), with backend gloo when the model trains on the CPU and nccl on CUDA (rank ``k`` on
``cuda:k``). Each worker uses ``--threads`` CPU threads (default: the cores divided by
``N``). Rank 0 prints the table and writes the run directory; a worker's error ends all of
them and is reported once, as in a single-process run.

A cluster: start the same command under ``torchrun`` on every node, without ``--nproc``
(``stgraph train`` sees torchrun's ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` and joins its
process group)::

    torchrun --nnodes 4 --nproc-per-node 8 --rdzv-backend c10d \\
        --rdzv-endpoint HOST:29400 --rdzv-id RUN_ID -m stgraph.cli train --dataset ... --out DIR

What changes there: the data must be readable on every node (``--data-dir``); the run
directory is written by global rank 0 only, so ``--out`` need not be shared (a resumed state
and the best weights reach the other ranks by broadcast), but ``--resume`` must run with rank
0 on the node that holds it; ``train.batch_size`` stays the global batch, so it should be at
least the number of processes (otherwise ranks idle on empty shards).
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import pickle
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.multiprocessing.spawn import ProcessException

from stgraph._threads import available_cores
from stgraph.engine.config import ConfigError, RunConfig
from stgraph.engine.distributed import DistContext, activate
from stgraph.engine.experiment import RunResult, load_data, train_run
from stgraph.engine.forecaster import Forecaster

__all__ = ["check_nproc", "launch", "torchrun_world", "train_distributed"]

TIMEOUT = datetime.timedelta(minutes=30)


def torchrun_world() -> int:
    """``WORLD_SIZE`` set by ``torchrun`` (1 when this process was not started by it)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def check_nproc(nproc: Any, device: str = "cpu") -> int:
    """Validate a number of local processes for ``device``.

    Raises:
        ConfigError: not an integer >= 1, more than the CPU cores (gloo: one core each at
            least) or the GPUs (nccl: one GPU each), or a device without multi-process
            support.
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ConfigError(f"--nproc must be an integer >= 1, got {nproc!r}")
    if nproc == 1:
        return 1
    kind = torch.device(device).type
    if kind == "cpu":
        limit, what = available_cores(), "CPU cores"
    elif kind == "cuda":
        limit, what = torch.cuda.device_count(), "CUDA devices"
        if torch.device(device).index is not None:
            raise ConfigError("--nproc with CUDA: pass --device cuda (rank k uses cuda:k)")
    else:
        raise ConfigError(f"--nproc > 1 supports cpu (gloo) and cuda (nccl), not {device!r}")
    if nproc > limit:
        raise ConfigError(f"--nproc {nproc}: this machine has {limit} {what} (at most {limit})")
    return nproc


def _join(rank: int, world: int, device: str, store: dist.Store | None) -> DistContext:
    """Initialise the default process group and this rank's context."""
    kind = torch.device(device).type
    local = int(os.environ.get("LOCAL_RANK", rank))
    where = torch.device("cuda", local) if kind == "cuda" else torch.device("cpu")
    if kind == "cuda":
        torch.cuda.set_device(where)
    backend = "nccl" if kind == "cuda" else "gloo"
    if store is None:
        dist.init_process_group(backend, timeout=TIMEOUT)  # env:// (torchrun)
    else:
        dist.init_process_group(backend, store=store, rank=rank, world_size=world, timeout=TIMEOUT)
    return DistContext(rank, world, where)


def _worker(
    rank: int,
    world: int,
    port: int,
    device: str,
    threads: int,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    results: Any,
    log_level: int,
) -> None:
    """One spawned rank: join the group, run ``fn(ctx, *args)``, report to the parent."""
    logging.basicConfig(level=log_level, format="%(message)s")  # as the parent's stgraph logs
    torch.set_num_threads(threads)
    store = dist.TCPStore("127.0.0.1", port, None, False, timeout=TIMEOUT)
    ctx = _join(rank, world, device, store)
    try:
        with activate(ctx):
            out = fn(ctx, *args)
        # plain pickle: torch's queue would pass tensors as shared memory of a process
        # that is about to exit
        results.put(("ok", rank, pickle.dumps(out if rank == 0 else None)))
    except Exception as e:
        results.put(("error", rank, pickle.dumps(e)))
        raise SystemExit(1) from None  # the parent ends the other ranks
    finally:
        dist.destroy_process_group()


def launch(
    fn: Callable[..., Any],
    nproc: int,
    *args: Any,
    device: str = "cpu",
    threads: int | None = None,
) -> Any:
    """Run ``fn(ctx, *args)`` in ``nproc`` new local processes, each with its
    :class:`~stgraph.engine.distributed.DistContext` active, and return rank 0's result.

    Args:
        fn: a module-level function (it is pickled by reference), returning something
            picklable.
        nproc: number of processes (see :func:`check_nproc`).
        args: picklable arguments passed to every rank.
        device: ``cpu`` (gloo) or ``cuda`` (nccl).
        threads: CPU threads per process (default: the cores divided by ``nproc``).

    Raises:
        The first exception a rank raised (the other ranks are stopped).
    """
    nproc = check_nproc(nproc, device)
    threads = threads or max(1, available_cores() // nproc)
    store = dist.TCPStore("127.0.0.1", 0, None, True, timeout=TIMEOUT, wait_for_workers=False)
    spawn = mp.get_context("spawn")
    results = spawn.SimpleQueue()
    level = logging.getLogger("stgraph").getEffectiveLevel()
    job = (nproc, store.port, device, threads, fn, args, results, level)
    procs = mp.start_processes(_worker, job, nprocs=nproc, join=False, start_method="spawn")
    messages: list[tuple[str, int, Any]] = []
    try:
        while True:
            while not results.empty():
                messages.append(results.get())
            if procs.join(timeout=0.2):
                break
    except ProcessException as e:
        while not results.empty():
            messages.append(results.get())
        errors = [m[2] for m in messages if m[0] == "error"]
        if errors:  # the first one; the others are usually its echo (a peer hung up)
            raise pickle.loads(errors[0]) from None
        raise RuntimeError(f"a training process failed: {e}") from None
    while not results.empty():
        messages.append(results.get())
    return pickle.loads(next(m[2] for m in messages if m[0] == "ok" and m[1] == 0))


def _train_rank(ctx: DistContext, config: RunConfig, kw: dict[str, Any]) -> RunResult | None:
    """One rank of :func:`train_distributed`: rank 0 runs :func:`train_run`; the others
    train and evaluate alongside it (the same collectives in the same order) and write
    nothing."""
    if ctx.is_writer:
        return train_run(config, device=str(ctx.device), **kw)
    data = load_data(config.dataset, kw.get("data_dir"), kw.get("data"))
    forecaster = Forecaster.build(config, data, ctx.device)
    quiet = dataclasses.replace(config.train, progress=False)
    forecaster.fit(data, quiet, None, resume=kw.get("resume", False))
    forecaster.evaluate(data, "test", config.train.batch_size)
    return None


def train_distributed(
    config: RunConfig,
    nproc: int = 1,
    *,
    device: str = "cpu",
    threads: int | None = None,
    **kw: Any,
) -> RunResult | None:
    """:func:`~stgraph.engine.experiment.train_run` on ``nproc`` processes (data parallel,
    global batch ``config.train.batch_size``; see :mod:`stgraph.engine.distributed`).

    With ``nproc == 1`` this is ``train_run``; in a process started by ``torchrun`` it joins
    torchrun's process group instead of spawning (``nproc`` must then be 1) and returns
    ``None`` on every rank but 0.

    Args:
        config: the run.
        nproc: local processes to spawn.
        device: ``cpu`` or ``cuda``.
        threads: CPU threads per process.
        kw: the other arguments of ``train_run`` (``out``, ``data``, ``data_dir``,
            ``resume``, ``overwrite``, ``progress``).

    Raises:
        ConfigError: a bad ``nproc`` (see :func:`check_nproc`), or any error of
            ``train_run``, raised once in the calling process.
    """
    nproc = check_nproc(nproc, device)
    world = torchrun_world()
    if world > 1:
        if nproc != 1:
            raise ConfigError("--nproc is for local launches; under torchrun leave it out")
        if threads:
            torch.set_num_threads(threads)
        ctx = _join(int(os.environ["RANK"]), world, device, None)
        try:
            with activate(ctx):
                return _train_rank(ctx, config, kw)
        finally:
            dist.destroy_process_group()
    if nproc == 1:
        return train_run(config, device=device, **kw)
    result: RunResult = launch(_train_rank, nproc, config, kw, device=device, threads=threads)
    return result
