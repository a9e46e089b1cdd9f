"""Training throughput of stgraph's registered models against the peer libraries.

The peers are PyTorch Geometric Temporal (PGT) and torch-spatiotemporal (tsl), built into
``.bench-venv`` by ``tools/bench/install_peers.sh``. For every architecture a peer shares
with a registered stgraph model, one training step (forward, MAE loss, backward, AdamW) is
timed on random data of the METR-LA shape: the METR-LA graph (N=207, E=1,722, B=32) and a
generated directed 8-NN graph (N=2,000, E=16,000, B=8), L=12 -> H=12, F=2. Each peer runs
in its fastest supported configuration, sized to stgraph's parameter count as closely as
its options allow (``tools/bench/peer_models.py`` says how, and where the models differ).
Steps are interleaved (stgraph, peer A, peer B, stgraph, ...) in one process after warm-up
steps; the table gives medians. Never run by CI or the tests.

    .bench-venv/bin/python tools/bench/peers.py --write         # full run (~10 min), writes
                                                                # results/performance.md
    .bench-venv/bin/python tools/bench/peers.py --quick         # N=207 only, fewer steps
    .bench-venv/bin/python tools/bench/peers.py --archs dcrnn agcrn --nodes 2000
    .bench-venv/bin/python tools/bench/peers.py --memory        # + peak RSS, a process each
    .bench-venv/bin/python tools/bench/peers.py --profile dcrnn # top ops of each side's step
    .bench-venv/bin/python tools/bench/peers.py --stub-torch-sparse --nodes 207 --write
                            # while torch_sparse still compiles: the peers' COO paths only
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP

import argparse
import datetime
import json
import resource
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout's stgraph
sys.path.insert(0, str(Path(__file__).resolve().parent))

from efficiency import generic_layers, load, matmul_peak
from peer_models import Ctx, fit, n_params, peers, stub_torch_sparse, versions
from peer_report import RESULTS, table, write

from stgraph.models import ModelSpec, build_model, list_models

ARCHS = ["dcrnn", "graph-wavenet", "tgcn", "a3tgcn", "stgcn", "agcrn", "astgcn", "gman"]
BATCH = {207: 32, 2000: 8}


def graph(n: int, data_dir: str) -> tuple[Tensor, Tensor, str]:
    """METR-LA's sensor graph for N=207, a directed Gaussian 8-NN graph of random points
    otherwise (every node hears exactly 8 neighbours: E = 8 N)."""
    if n == 207:
        from stgraph.data.io.loaders.dcrnn import load_metr_la_graph

        g = load_metr_la_graph(data_dir)
        return g.edge_index, g.edge_weight.float(), "METR-LA"
    from stgraph.graph import build

    rng = np.random.default_rng(0)
    pts = np.column_stack([rng.uniform(-125.0, -67.0, n), rng.uniform(25.0, 49.0, n)])
    g = build("knn", pts, k=8, mode="directed", weight="gaussian")
    return g.edge_index, g.edge_weight.float(), f"directed 8-NN of {n} random points"


def data(c: Ctx) -> tuple[Tensor, Tensor, Tensor]:
    """Random ``x``, ``y`` and stgraph calendar covariates (time of day as a fraction of the
    day, day of week) for the ``L + H`` steps."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(c.batch, c.lookback, c.n, c.f, generator=g)
    y = torch.randn(c.batch, c.horizon, c.n, c.f, generator=g)
    steps = torch.arange(c.lookback + c.horizon) + torch.randint(0, 2016, (c.batch, 1), generator=g)
    cov = torch.stack([(steps % 288) / 288.0, (steps // 288) % 7], -1).float()
    return x, y, cov[:, :, None]


class Stg(nn.Module):
    """A registered stgraph model called like the peer wrappers: ``(x, cov)``."""

    def __init__(self, name: str, c: Ctx) -> None:
        super().__init__()
        self.cov = 2 if name == "gman" else 0  # GMAN's calendar embedding, as PGT's GMAN
        spec = ModelSpec(c.f, c.f, c.lookback, c.horizon, c.n, num_covariates=self.cov)
        torch.manual_seed(0)
        self.model, self.c = build_model(name, spec), c

    def forward(self, x: Tensor, cov: Tensor | None = None) -> Tensor:
        cov = cov if self.cov else None
        return self.model(x, self.c.edge_index, self.c.edge_weight, covariates=cov)


def stepper(model: nn.Module, batch: tuple[Tensor, Tensor, Tensor]) -> Callable[[], None]:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y, cov = batch
    model.train()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        (model(x, cov) - y).abs().mean().backward()
        opt.step()

    return step


def contenders(
    arch: str,
    c: Ctx,
) -> list[tuple[str, nn.Module, str]]:
    """``(label, model, note)`` for stgraph and every peer of ``arch`` that builds."""
    out = [("stgraph", Stg(arch, c), "registered defaults")]
    target = n_params(out[0][1])
    for p in (p for p in peers() if p.arch == arch):
        try:
            size, m = fit(p, c, target)
        except Exception as e:  # a peer that cannot build is reported, not fatal
            print(f"  {p.lib} {arch}: failed to build: {type(e).__name__}: {e}")
            continue
        out.append((p.lib, m, f"{p.knob}={size}"))
    return out


def step_flops(step: Callable[[], None]) -> float:
    """Dense FLOPs of one training step as torch's ``FlopCounterMode`` counts them (matmul,
    convolution, attention products, forward + backward; element-wise work, the optimizer
    and torch_sparse's products are not counted). stgraph's node-major DCGRU path does its
    GEMMs in place (``out=`` / ``addmm_``), which the counter misses, so stgraph models are
    counted on the generic layer path (:func:`efficiency.generic_layers`): the same maths."""
    with generic_layers(), FlopCounterMode(display=False) as counter:
        step()
    return float(counter.get_total_flops())


def bench(arch: str, c: Ctx, args: argparse.Namespace) -> list[dict]:
    """Interleaved training steps of stgraph and its peers for one architecture: after the
    warm-up, one step of each model per round; a model whose warm-up step is slow gets as
    many steps as ``--budget`` seconds allow (at least ``--min-reps``, at most ``--reps``)."""
    if all(c.n > p.max_nodes for p in peers() if p.arch == arch):
        print(f"  {arch}: skipped at N={c.n} (N^2 attention maps; too large for this machine)")
        return []
    entries = contenders(arch, c)
    batch = data(c)
    steps, times, want, failed = {}, {}, {}, {}
    for label, m, _ in entries:
        try:
            steps[label] = stepper(m, batch)
            for _ in range(args.warmup):
                t0 = time.perf_counter()
                steps[label]()
                first = time.perf_counter() - t0  # the last warm-up step
                if first > args.budget:  # a very slow model: one warm-up step is enough
                    break
            want[label] = min(args.reps, max(args.min_reps, int(args.budget / first)))
            times[label] = []
            print(
                f"  {arch} {label}: warm-up step {first:.1f} s -> {want[label]} steps", flush=True
            )
        except Exception as e:  # a peer that cannot step is reported, not fatal
            print(f"  {label} {arch}: step failed: {type(e).__name__}: {e}")
            traceback.print_exc(limit=3)
            failed[label], steps[label] = f"failed: {type(e).__name__}: {str(e)[:60]}", None
    for _ in range(max(want.values(), default=0)):
        for label in want:
            if len(times[label]) < want[label]:
                t0 = time.perf_counter()
                steps[label]()
                times[label].append(time.perf_counter() - t0)
    rows = []
    for label, m, note in entries:
        if label in failed:
            rows.append(dict(n=c.n, arch=arch, lib=label, params=n_params(m), note=note))
            rows[-1]["error"] = failed[label]
        if label not in want:
            continue
        ms = statistics.median(times[label]) * 1e3
        row = dict(n=c.n, arch=arch, lib=label, params=n_params(m), note=note, ms=ms)
        row.update(sps=c.batch / ms * 1e3, reps=len(times[label]))
        row["gflop"] = step_flops(steps[label]) / 1e9
        rows.append(row)
        print(f"  {arch:<14}{label:<8}{row['params']:>10,}{ms:>10.0f} ms  {row['sps']:>7.1f}/s")
    return rows


def numerics(c: Ctx) -> str:
    """Which degree each library divides a diffusion edge weight by (checked numerically)."""
    from stgraph.graph.normalization import normalize

    ei, ew, lines = c.edge_index, c.edge_weight, []
    try:
        from tsl.ops.connectivity import asymmetric_norm

        _, w = asymmetric_norm(ei, ew, dim=1, num_nodes=c.n)
        for kind in ("rw", "rw_in"):
            diff = (w - normalize(ei, ew, c.n, kind)[1]).abs().max().item()
            lines.append(f"tsl DiffConv vs stgraph normalize({kind!r}): max |diff| {diff:.1e}")
    except ImportError:
        pass
    deg_out = torch.zeros(c.n).scatter_add_(0, ei[0], ew)
    diff = (ew / deg_out[ei[0]] - normalize(ei, ew, c.n, "rw")[1]).abs().max().item()
    lines.append(f"PGT BatchedDConv forward norm vs stgraph 'rw': max |diff| {diff:.1e}")
    return "; ".join(lines)


def memory(args: argparse.Namespace, n: int, arch: str, lib: str) -> float | None:
    """Peak RSS (MB) of a fresh process that builds one model and runs three steps."""
    cmd = [sys.executable, __file__, "--child", f"{n}:{arch}:{lib}", "--data-dir", args.data_dir]
    cmd += ["--adjacency", args.adjacency] + ["--stub-torch-sparse"] * args.stub_torch_sparse
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    try:
        return float(json.loads(res.stdout.strip().splitlines()[-1])["rss"])
    except (ValueError, IndexError, KeyError):
        return None


def child(args: argparse.Namespace) -> None:
    n, arch, lib = args.child.split(":")
    c = ctx(int(n), args)[0]
    m = next(m for label, m, _ in contenders(arch, c) if label == lib)
    step = stepper(m, data(c))
    for _ in range(3):
        step()
    print(json.dumps({"rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def ctx(n: int, args: argparse.Namespace) -> tuple[Ctx, str]:
    ei, ew, name = graph(n, args.data_dir)
    batch = args.batch or BATCH.get(n, 8)
    return Ctx(n, 2, 12, 12, batch, ei, ew, args.adjacency == "sparse"), name


def profile(arch: str, c: Ctx) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as prof

    for label, m, _ in contenders(arch, c):
        step = stepper(m, data(c))
        step()
        with prof(activities=[ProfilerActivity.CPU]) as p:
            step()
        print(f"\n=== {label} {arch} (N={c.n}) ===")
        print(p.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--archs", nargs="*", default=ARCHS)
    p.add_argument("--nodes", type=int, nargs="*", default=[207, 2000])
    p.add_argument("--quick", action="store_true", help="N=207 only, fewer steps")
    p.add_argument("--reps", type=int, default=7, help="timed steps per model (median)")
    p.add_argument("--min-reps", type=int, default=3, help="for models slower than --budget")
    p.add_argument("--budget", type=float, default=60.0, help="timed seconds per model")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--adjacency", choices=("sparse", "edge_index"), default="sparse")
    p.add_argument("--batch", type=int, default=None, help="default: 32 (N=207), 8 (N=2000)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--mem-limit", type=float, default=None, help="address-space cap, GB")
    p.add_argument("--data-dir", default=os.environ.get("STGRAPH_DATA", "/work/shared/data"))
    p.add_argument("--memory", action="store_true", help="peak RSS, a fresh process per model")
    p.add_argument("--profile", default=None, metavar="ARCH")
    p.add_argument("--write", action="store_true", help=f"write {RESULTS.name}")
    p.add_argument(
        "--stub-torch-sparse",
        action="store_true",
        help="torch_sparse not built: stub it, COO paths only (implies --adjacency edge_index)",
    )
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.mem_limit:  # a model that needs more fails (reported) instead of OOM-killing others
        cap = int(args.mem_limit * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
    if args.stub_torch_sparse:
        stub_torch_sparse()
        args.adjacency = "edge_index"
    if args.child:
        return child(args)
    if args.quick:
        args.nodes, args.reps, args.min_reps, args.budget, args.warmup = [207], 5, 2, 20.0, 1
    if args.profile:
        return profile(args.profile, ctx(args.nodes[0], args)[0])
    registered = {m.name for m in list_models()}
    archs = [a for a in args.archs if a in registered]
    missing = sorted(set(args.archs) - registered)
    before, t0, rows, graphs = load(), time.time(), [], []
    peaks = [matmul_peak()[0]]
    check = numerics(ctx(207, args)[0])
    print(f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}, {args.threads} threads; {versions()}")
    for n in args.nodes:
        c, gname = ctx(n, args)
        graphs.append(f"N={n} ({gname}, E={c.edge_index.shape[1]:,}, B={c.batch})")
        print(f"\n{graphs[-1]}")
        for arch in archs:
            rows += bench(arch, c, args)
    if args.memory:
        for r in rows:
            rss = memory(args, r["n"], r["arch"], r["lib"])
            if rss is not None:
                r["rss"] = rss
    after, peak = load(), max([*peaks, matmul_peak()[0]])
    cmd = ".bench-venv/bin/python tools/bench/peers.py " + " ".join(sys.argv[1:])
    notes = [
        f"`{cmd}` — {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{time.time() - t0:.0f} s; {versions()}.",
        f"{args.threads} threads (`torch.set_num_threads`), `OMP_WAIT_POLICY="
        f"{os.environ['OMP_WAIT_POLICY']}` set before torch loads; `/proc/loadavg` before "
        f"{before}, after {after} (a shared 2-core machine: read the ratios, not the ms).",
        f"n = {args.reps} timed steps, fewer (at least {args.min_reps}) for a model whose "
        f"steps would exceed {args.budget:.0f} s; {args.warmup} warm-up step(s) each (one "
        "for a model slower than that); "
        f"peer adjacency input: {args.adjacency}. " + "; ".join(graphs) + ".",
        f"fp32 matmul peak measured in this run (`efficiency.matmul_peak`, best of the start "
        f"and the end): {peak:.0f} GFLOP/s.",
    ]
    if args.memory:
        notes.append("In brackets: peak RSS of a fresh process building the model, 3 steps.")
    if missing:
        notes.append(f"Not registered in stgraph (skipped): {', '.join(missing)}.")
    sizes = "+".join(str(n) for n in args.nodes)
    block = f"### N={sizes}: {', '.join(archs)}\n\n" + "\n\n".join(notes) + "\n\n"
    block += table(rows, peak) + "\n"
    print("\n" + block)
    if args.write:
        write(check, block)


if __name__ == "__main__":
    main()
