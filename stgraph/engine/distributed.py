r"""Data-parallel training on ``torch.distributed``: what each rank trains on, how gradients
and metrics are combined, and who writes files.

Conventions (every rank runs the same :class:`~stgraph.engine.trainer.Trainer`):

- **Global batch.** ``train.batch_size`` is the *global* batch: each step takes the same
  windows as a single process would (the epoch's order is one ``randperm`` drawn from the
  run's seeded generator, identical on every rank) and each rank computes a contiguous
  shard of them (:func:`train_batches`). Every rank makes the same number of steps, the
  shards are disjoint and cover the epoch; a rank whose shard of a short last batch is
  empty still joins the step. Unlike ``DistributedSampler`` no window is repeated, so the
  number of processes changes the arithmetic only (float rounding), not the run.
- **Exact gradients.** The loss is a masked mean. Rank :math:`r` back-propagates its
  shard's masked mean :math:`\ell_r` over its :math:`n_r` observed targets; the gradients
  are all-reduced as :math:`\sum_r n_r \nabla \ell_r / \sum_r n_r`, which is the gradient
  of the global batch's masked mean (:func:`backward`). For ``loss="rmse"`` the ranks
  combine masked MSEs and apply :math:`\nabla \sqrt{u} = \nabla u / (2\sqrt{u})` after the
  reduction. One all-reduce of a flat buffer per step (by hand rather than
  ``DistributedDataParallel``, whose fixed ``1 / world`` average cannot weight by counts;
  checkpoints therefore hold the plain model's ``state_dict``, with no ``module.`` prefix).
- **Exact metrics.** Evaluation shards the windows and all-reduces the sums and counts of
  :class:`~stgraph.engine.metrics.MetricAccumulator` (:func:`reduce_metrics`), so every
  rank computes the same metrics, hence the same early-stopping decision.
- **Files.** Only rank 0 writes (checkpoints, ``train.log``, the run directory, each
  atomically); the others receive what rank 0 reads (a resumed state, the best weights)
  by broadcast (:func:`from_writer`), so no rank-specific state exists and a run resumes
  with any number of processes. The CPU-time budget counts the slowest rank
  (:func:`slowest`), so all ranks stop after the same epoch.

Dropout and scheduled sampling draw from each rank's torch generator, and layers that
depend on the batch in training mode (batch normalisation) see a rank's shard: such models
train equally well but not bit-for-bit like one process. The launchers are in
:mod:`stgraph.engine.launch`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor

from stgraph.data.windows import Batch, WindowDataset
from stgraph.engine.metrics import LOSSES, MetricAccumulator, masked_mse

T = TypeVar("T")

__all__ = [
    "DistContext",
    "activate",
    "backward",
    "current",
    "from_writer",
    "reduce_metrics",
    "shard_windows",
    "slowest",
    "sync_parameters",
    "train_batches",
]


@dataclass(frozen=True)
class DistContext:
    """This process's place in an initialised default process group.

    Args:
        rank: global rank (0 writes the files).
        world_size: number of processes.
        device: where collectives run: ``cpu`` for gloo, this rank's ``cuda:k`` for nccl.
    """

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_writer(self) -> bool:
        """Whether this rank writes files (rank 0)."""
        return self.rank == 0

    def shard(self, n: int) -> slice:
        """This rank's contiguous part of ``range(n)`` (sizes differ by at most one)."""
        return slice(n * self.rank // self.world_size, n * (self.rank + 1) // self.world_size)

    def all_reduce(self, t: Tensor, op: str = "sum") -> Tensor:
        """A new tensor: ``t`` summed (``op="sum"``) or maximised (``"max"``) over the
        ranks, on ``t``'s device; the result is identical on every rank."""
        buf = t.detach().to(self.device, copy=True)
        dist.all_reduce(buf, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
        return buf.to(t.device)

    def broadcast(self, obj: T) -> T:
        """Rank 0's ``obj`` on every rank (pickled; tensors arrive on the CPU)."""
        box = [obj]
        dist.broadcast_object_list(box, src=0, device=self.device)
        return box[0]


_current: DistContext | None = None


def current() -> DistContext | None:
    """The context of the distributed run this process takes part in (``None`` in a
    single-process run, also when some other code initialised a process group)."""
    return _current


@contextlib.contextmanager
def activate(ctx: DistContext | None) -> Iterator[DistContext | None]:
    """Make ``ctx`` the :func:`current` context inside the block."""
    global _current
    previous, _current = _current, ctx
    try:
        yield ctx
    finally:
        _current = previous


# ---------------------------------------------------------------------- training
def train_batches(
    windows: WindowDataset, batch_size: int, generator: torch.Generator, ctx: DistContext | None
) -> Iterator[tuple[Batch | None, int]]:
    """One epoch's steps: this rank's shard of each global batch (``None`` when empty) and
    the global batch's number of windows. A single process gets ``windows.loader``'s
    batches; ranks draw the same order from ``generator`` (lazily, at the first step, as the
    loader does) and split each global batch with :meth:`DistContext.shard`."""
    if ctx is None:
        for batch in windows.loader(batch_size, shuffle=True, generator=generator):
            yield batch, len(batch)
        return
    order = torch.randperm(len(windows), generator=generator)
    for i in range(0, len(windows), batch_size):
        positions = order[i : i + batch_size]
        mine = positions[ctx.shard(len(positions))]
        yield (windows.batch(mine.numpy()) if len(mine) else None), len(positions)


def backward(
    forecaster: Any,
    batch: Batch | None,
    loss: str,
    teacher_forcing: float,
    node_batch: dict[str, Any],
    ctx: DistContext | None,
) -> Tensor:
    """Back-propagate one step's loss and return its value (detached): the global batch's
    masked loss, with every rank's gradients set to the gradient of that loss.

    Args:
        forecaster: a :class:`~stgraph.engine.trainer.Trainable`.
        batch: this rank's windows (``None``: an empty shard, no forward pass).
        loss: ``"mae"``, ``"mse"`` or ``"rmse"``.
        teacher_forcing: scheduled-sampling probability of this step.
        node_batch: ``{"graph": halo}`` for a node batch, else ``{}``.
        ctx: the distributed context (``None``: plain ``loss.backward()``).
    """
    if ctx is None:
        assert batch is not None
        value = forecaster.loss(batch, LOSSES[loss], teacher_forcing, **node_batch)
        value.backward()
        return value.detach()
    inner = masked_mse if loss == "rmse" else LOSSES[loss]
    counts: list[Tensor] = []

    def counted(out: Tensor, y: Tensor, mask: Tensor) -> Tensor:
        counts.append(mask.sum())
        return inner(out, y, mask)

    n_local, mean_local = 0.0, 0.0
    if batch is not None:
        value = forecaster.loss(batch, counted, teacher_forcing, **node_batch)
        value.backward()
        n_local, mean_local = float(counts[-1]), float(value.detach())
    params = [p for p in forecaster.model.parameters() if p.requires_grad]
    flags = [float(p.grad is not None) for p in params]
    meta = ctx.all_reduce(
        torch.tensor([n_local, n_local * mean_local, *flags], dtype=torch.float64)
    )
    total = max(float(meta[0]), 1.0)
    mean = float(meta[1]) / total
    scale = 1.0 / total
    if loss == "rmse":  # d sqrt(u) = du / (2 sqrt(u)); 0 where u = 0, as masked_rmse does
        scale, mean = (scale / (2 * math.sqrt(mean)), math.sqrt(mean)) if mean > 0 else (0.0, 0.0)
    used = [p for p, f in zip(params, meta[2:].tolist(), strict=True) if f > 0]
    if used:
        grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in used]
        flat = ctx.all_reduce(torch.cat([g.reshape(-1) for g in grads]) * n_local) * scale
        for p, g in zip(used, flat.split([p.numel() for p in used]), strict=True):
            p.grad = g.view_as(p).clone()
    return torch.tensor(mean)


def sync_parameters(model: torch.nn.Module, ctx: DistContext | None) -> None:
    """Copy rank 0's parameters and buffers to every rank (a no-op in one process)."""
    if ctx is None:
        return
    with torch.no_grad():
        for t in model.state_dict().values():
            buf = t.to(ctx.device)
            dist.broadcast(buf, src=0)
            t.copy_(buf)


def from_writer(ctx: DistContext | None, read: Callable[[], T]) -> T:
    """``read()`` on rank 0 (or the only process), broadcast to every rank; an exception
    raised by ``read`` is raised on every rank, so none waits for a value that never
    comes."""
    if ctx is None:
        return read()
    result: Any = None
    if ctx.is_writer:
        try:
            result = read()
        except Exception as e:  # re-raised below on every rank
            result = e
    result = ctx.broadcast(result)
    if isinstance(result, Exception):
        raise result
    return result


def slowest(ctx: DistContext | None, *values: float) -> tuple[float, ...]:
    """The largest of each value over the ranks (``values`` unchanged in one process),
    e.g. an epoch's seconds, so that time budgets are decided alike everywhere."""
    if ctx is None:
        return values
    return tuple(ctx.all_reduce(torch.tensor(values, dtype=torch.float64), "max").tolist())


# ---------------------------------------------------------------------- evaluation
def shard_windows(windows: WindowDataset, ctx: DistContext | None) -> WindowDataset:
    """This rank's contiguous part of ``windows`` (all of them in one process)."""
    if ctx is None:
        return windows
    starts = windows.starts[ctx.shard(len(windows))]
    return WindowDataset(windows.data, starts, windows.lookback, windows.horizon)


def reduce_metrics(acc: MetricAccumulator, ctx: DistContext | None) -> None:
    """Sum ``acc``'s sums and counts over the ranks, in place (exact: the metrics then
    equal those of one accumulator over every rank's windows)."""
    if ctx is not None:
        acc.reduce(ctx.all_reduce)
