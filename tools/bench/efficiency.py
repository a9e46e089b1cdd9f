"""CPU efficiency of whole training steps: achieved GFLOP/s against the machine's matmul peak.

In one run: the fp32 matmul peak of this machine at the run's thread count (the best median
GFLOP/s of large square ``torch.mm``), then for every model one training step (forward,
masked-MAE-like loss, backward, AdamW) on random data of the METR-LA shape, timed interleaved
(one step of every model per round, median over rounds), and its floating-point work counted
by :class:`torch.utils.flop_counter.FlopCounterMode` over forward + backward. The ratio to
read is ``% of peak`` (achieved GFLOP/s / peak GFLOP/s, both measured in this run).

The work is counted on the generic layer path (the node-major fast path of
:mod:`stgraph.nn.ops.nodemajor` does the same GEMMs in place, which the counter does not
see), so every implementation is credited with the same FLOPs. Sparse products are not
counted by ``FlopCounterMode``; the ``sparse GFLOP`` column adds
``2 * nnz * columns`` for every CSR product of a forward + backward (measured by a hook on
:class:`stgraph.nn.GraphOperator`), so a layer running a dense or a sparse product is not
credited with work it did not need.

    python tools/bench/efficiency.py --threads 2                       # METR-LA graph, B=32
    python tools/bench/efficiency.py --threads 2 --nodes 2000 --models dcrnn --batch 8
    python tools/bench/efficiency.py --threads 2 --profile dcrnn       # top ops by self CPU

``dcrnn-encoder`` is the encoder composition of the issue: two
``RecurrentLayer(GraphGRUCell(DiffusionConv))`` layers (hidden 64, K=2) over the ``L`` steps
and a linear map from the last state to all ``H`` steps.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout's stgraph

from stgraph.graph import build
from stgraph.models import ModelSpec, build_model
from stgraph.nn import DiffusionConv, GraphGRUCell, RecurrentLayer
from stgraph.nn.ops import propagate

RESULTS = Path(__file__).resolve().parent / "results" / "efficiency.md"


def load() -> str:
    """``/proc/loadavg``'s 1/5/15-minute averages (the machine is shared)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def matmul_peak(sizes: tuple[int, ...] = (1024, 2048), repeat: int = 5) -> tuple[float, int]:
    """Best median GFLOP/s of ``[n, n] @ [n, n]`` fp32 over ``sizes``; returns (GFLOP/s, n)."""
    best = (0.0, 0)
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        torch.mm(a, b)
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            torch.mm(a, b)
            times.append(time.perf_counter() - t0)
        best = max(best, (2 * n**3 / statistics.median(times) / 1e9, n))
    return best


class Encoder(nn.Module):
    """Two DCGRU layers over the lookback, then one linear map to every horizon step."""

    def __init__(self, spec: ModelSpec, hidden: int = 64, k: int = 2) -> None:
        super().__init__()

        def conv(i: int, o: int) -> nn.Module:
            return DiffusionConv(i, o, k=k)

        self.layers = nn.ModuleList(
            RecurrentLayer(GraphGRUCell(spec.in_channels if j == 0 else hidden, hidden, conv))
            for j in range(2)
        )
        self.head = nn.Linear(hidden, spec.horizon * spec.out_channels)
        self.h, self.f = spec.horizon, spec.out_channels

    def forward(
        self, x: Tensor, ei: Tensor, ew: Tensor | None = None, cov: Tensor | None = None
    ) -> Tensor:
        for layer in self.layers:
            x = layer(x, ei, ew)
        b, _, n, _ = x.shape
        return self.head(x[:, -1]).view(b, n, self.h, self.f).transpose(1, 2)


def graph(nodes: int, data_dir: str | None) -> tuple[Tensor, Tensor, str]:
    """The METR-LA graph for 207 nodes (when its files are found), else a symmetric 8-NN
    graph of random points."""
    if nodes == 207:
        try:
            from stgraph.data.io.loaders.dcrnn import load_metr_la_graph

            g = load_metr_la_graph(data_dir)
            return g.edge_index, g.edge_weight.float(), "METR-LA"
        except (FileNotFoundError, OSError, KeyError, ValueError):
            pass
    rng = np.random.default_rng(0)
    pts = np.column_stack([rng.uniform(-125.0, -67.0, nodes), rng.uniform(25.0, 49.0, nodes)])
    g = build("knn", pts, k=8)
    return g.edge_index, g.edge_weight.float(), f"{nodes}-node 8-NN"


def make(name: str, spec: ModelSpec) -> nn.Module:
    """A registered model (default hyper-parameters) or the encoder composition."""
    torch.manual_seed(0)
    return Encoder(spec) if name == "dcrnn-encoder" else build_model(name, spec)


def inputs(spec: ModelSpec, batch: int) -> tuple[Tensor, Tensor, Tensor]:
    """Random ``x [B, L, N, F]``, ``y [B, H, N, F]`` and calendar covariates."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, spec.lookback, spec.num_nodes, spec.in_channels, generator=g)
    y = torch.randn(batch, spec.horizon, spec.num_nodes, spec.out_channels, generator=g)
    steps = torch.arange(spec.lookback + spec.horizon) + torch.randint(0, 2016, (batch, 1))
    cov = torch.stack([(steps % 288) / 288.0, (steps // 288) % 7], -1).float()
    return x, y, cov[:, :, None]


def stepper(
    model: nn.Module, ei: Tensor, ew: Tensor, data: tuple[Tensor, Tensor, Tensor]
) -> Callable[[bool], None]:
    """One training step; ``step(False)`` runs forward + backward only (for counting)."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y, cov = data

    def step(update: bool = True) -> None:
        opt.zero_grad(set_to_none=True)
        loss = (model(x, ei, ew, cov) - y).abs().mean()
        loss.backward()
        if update:
            opt.step()

    return step


@contextlib.contextmanager
def generic_layers() -> Iterator[None]:
    """Inside the block, diffusion layers take their generic path: the same maths as the
    node-major fast path (:mod:`stgraph.nn.ops.nodemajor`), whose in-place / ``out=`` GEMMs
    ``FlopCounterMode`` does not see."""
    fast = DiffusionConv.supports_node_major
    DiffusionConv.supports_node_major = lambda self, w: False  # type: ignore[method-assign]
    try:
        yield
    finally:
        DiffusionConv.supports_node_major = fast  # type: ignore[method-assign]


def count_flops(step: Callable[[bool], None]) -> tuple[float, float]:
    """(dense GFLOP counted by FlopCounterMode, sparse GFLOP of CSR products) of one
    forward + backward."""
    sparse = [0.0]
    original = propagate._sparse_product

    def counted(matrix: Tensor, x: Tensor, add: Tensor | None, alpha: float) -> Tensor:
        sparse[0] += 2.0 * matrix._nnz() * x.numel() / x.shape[-2]
        return original(matrix, x, add, alpha)

    propagate._sparse_product = counted  # type: ignore[assignment]
    try:
        with generic_layers(), FlopCounterMode(display=False) as fc:
            step(False)
    finally:
        propagate._sparse_product = original  # type: ignore[assignment]
    return fc.get_total_flops() / 1e9, sparse[0] / 1e9


def profile(step: Callable[[bool], None], rows: int = 25) -> str:
    """Top ops of one step by self CPU time."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as prof

    step(True)
    with prof(activities=[ProfilerActivity.CPU], record_shapes=True) as p:
        step(True)
    return p.key_averages(group_by_input_shape=True).table(
        sort_by="self_cpu_time_total", row_limit=rows, max_name_column_width=40
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--models",
        nargs="*",
        default=["dcrnn", "dcrnn-encoder", "graph-wavenet", "a3tgcn", "stgcn"],
    )
    p.add_argument("--nodes", type=int, default=207)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--repeat", type=int, default=5, help="timed rounds (median)")
    p.add_argument("--data-dir", default=os.environ.get("STGRAPH_DATA", "/work/shared/data"))
    p.add_argument("--profile", default=None, help="print the top ops of this model's step")
    p.add_argument("--write", action="store_true", help=f"write {RESULTS.name}")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ei, ew, gname = graph(args.nodes, args.data_dir)
    spec = ModelSpec(2, 2, 12, 12, args.nodes)
    data = inputs(spec, args.batch)
    if args.profile:
        print(profile(stepper(make(args.profile, spec), ei, ew, data)))
        return
    peak, size = matmul_peak()
    models = {m: make(m, spec) for m in args.models}
    steps = {m: stepper(model, ei, ew, data) for m, model in models.items()}
    flops = {m: count_flops(s) for m, s in steps.items()}
    times: dict[str, list[float]] = {m: [] for m in steps}
    for s in steps.values():
        s(True)  # warm-up
    for _ in range(args.repeat):
        for m, s in steps.items():
            t0 = time.perf_counter()
            s(True)
            times[m].append(time.perf_counter() - t0)
    peak_after, _ = matmul_peak(repeat=3)
    head = "| model | params | step ms (median) | samples/s | GFLOP/step (dense + sparse) "
    head += "| GFLOP/s | % of peak |"
    lines = [head, "|---|---|---|---|---|---|---|"]
    for m in steps:
        t = statistics.median(times[m])
        dense, sp = flops[m]
        params = sum(q.numel() for q in models[m].parameters())
        gfs = (dense + sp) / t
        lines.append(
            f"| {m} | {params:,} | {t * 1e3:.0f} | {args.batch / t:.1f} | {dense:.1f} + {sp:.2f} "
            f"| {gfs:.1f} | {100 * gfs / peak:.0f}% |"
        )
    table = "\n".join(lines)
    note = (
        f"{datetime.date.today()}, {platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}, {args.threads} threads, {gname} graph (N={args.nodes}), "
        f"B={args.batch}, L=H=12, F=2; fp32 matmul peak {peak:.0f} GFLOP/s ({size}^2 sgemm; "
        f"{peak_after:.0f} re-measured after the steps); median of {args.repeat} interleaved "
        f"rounds; load average before/after: {start_load} / {load()}"
    )
    print(note + "\n\n" + table)
    if args.write:
        cmd = "python tools/bench/efficiency.py " + " ".join(sys.argv[1:])
        RESULTS.write_text(f"# Training-step efficiency\n\n`{cmd}`\n\n{note}\n\n{table}\n")


start_load = load()

if __name__ == "__main__":
    main()
