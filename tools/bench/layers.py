"""Speed of stgraph's spatial layers: fixed-graph fast path vs the generic PyG path.

For every spatial layer, forward+backward milliseconds of the layer as shipped (dense or
CSR ``GraphOperator``, folded over batch and time) and of the same computation with every
propagation done by a plain ``torch_geometric.nn.MessagePassing`` (``message = w * x_j``,
sum aggregation) over the ``B*T`` snapshots as one big disjoint-batch graph, with the same
normalised weights and the same linear maps. Both are timed in the same run, interleaved,
median of ``--repeat`` runs; the ratio is what to read (timings are noisy on a shared CPU).

    python tools/bench/layers.py                      # N=207 (B=64) and N=2000 (B=8)
    python tools/bench/layers.py --auto               # also re-measure the dense/CSR rule
    python tools/bench/layers.py --nodes 207 --batch 64 --repeat 7

N=2000 uses a smaller batch by default: the disjoint-batch MessagePassing baseline holds
``B*T*E*F`` messages (3.5 GB at B=64), too much for a shared machine.

The ratio depends on the memory allocator. With glibc's defaults every tensor above 32 MB is
a fresh ``mmap`` whose pages fault in on first touch, which is expensive in a virtual machine
and hits the MessagePassing path (its message tensors are large) harder than the fast path.
``--allocator heap`` turns ``mmap`` off (``mallopt``), so freed memory is reused as a caching
allocator would and the timings measure the arithmetic alone; ``both`` (the default) runs the
benchmark twice, in a fresh process per allocator.
"""

from __future__ import annotations

import argparse
import ctypes
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout's stgraph

from stgraph.graph.normalization import normalize, reverse
from stgraph.nn import ChebConv, DiffusionConv, GATConv, GCNConv, GraphOperator, choose_layout


class WeightedSum(MessagePassing):
    """The generic PyG propagation: ``out_i = sum_j w_ji x_j``."""

    def __init__(self) -> None:
        super().__init__(aggr="sum")

    def forward(self, x: Tensor, edge_index: Tensor, weight: Tensor) -> Tensor:
        return self.propagate(edge_index, x=x, weight=weight)

    def message(self, x_j: Tensor, weight: Tensor) -> Tensor:
        return weight.unsqueeze(-1) * x_j


def knn_graph(n: int, k: int = 8, seed: int = 0) -> tuple[Tensor, Tensor]:
    """A symmetric k-nearest-neighbour graph of random points with Gaussian weights (a
    road-sensor-like graph: METR-LA has N=207 and about 8 neighbours per node)."""
    g = torch.Generator().manual_seed(seed)
    pos = torch.rand(n, 2, generator=g)
    d = torch.cdist(pos, pos)
    nbr = d.topk(k + 1, largest=False).indices[:, 1:]
    adj = torch.zeros(n, n, dtype=torch.bool)
    adj[torch.arange(n)[:, None], nbr] = True
    adj = adj | adj.t()
    ei = adj.nonzero().t().contiguous()
    w = torch.exp(-((d[ei[0], ei[1]] / d[ei[0], ei[1]].std()) ** 2))
    return ei, w


class Disjoint:
    """The ``S`` snapshots of ``[B, T, N, F]`` as one graph of ``S*N`` nodes (PyG batching)."""

    def __init__(self, ei: Tensor, n: int, snapshots: int) -> None:
        self.n, self.s = n, snapshots
        self.mp = WeightedSum()


def mp_layers(
    g: Disjoint, ei: Tensor, ew: Tensor, n: int
) -> dict[str, Callable[[nn.Module, Tensor], Tensor]]:
    """The generic-path version of each layer, reusing the fast layer's parameters."""

    def prop(kind: str, loops: bool = False, against: bool = False, scale: float = 1.0):
        e, w = normalize(reverse(ei) if against else ei, ew, n, kind, loops)  # type: ignore[arg-type]
        big = e.repeat(1, g.s) + (torch.arange(g.s) * n).repeat_interleave(e.size(1))
        w = (w * scale).repeat(g.s)
        return lambda x: g.mp(x.reshape(-1, x.shape[-1]), big, w).reshape(x.shape)

    sym, cheb = prop("sym", loops=True), prop("sym", scale=-1.0)
    fwd, bwd = prop("rw"), prop("rw", against=True)

    def gcn(m: nn.Module, x: Tensor) -> Tensor:
        return sym(m.lin(x)) + m.bias

    def chebf(m: nn.Module, x: Tensor) -> Tensor:
        terms = [x, cheb(x)]
        for _ in range(2, m.k):
            terms.append(2.0 * cheb(terms[-1]) - terms[-2])
        return m.lin(torch.cat(terms, -1))

    def diffusion(m: nn.Module, x: Tensor) -> Tensor:
        terms = [x]
        for p in (fwd, bwd):
            h = x
            for _ in range(m.k):
                h = p(h)
                terms.append(h)
        return m.lin(torch.cat(terms, -1))

    return {
        "propagate": lambda m, x: sym(x),
        "gcn": gcn,
        "cheb": chebf,
        "diffusion": diffusion,
    }


def timed(fn: Callable[[], Tensor], grad: Tensor) -> float:
    t0 = time.perf_counter()
    fn().backward(grad)
    return (time.perf_counter() - t0) * 1e3


def bench_layers(n: int, batch: int, steps: int, feats: int, repeat: int) -> None:
    ei, ew = knn_graph(n)
    x = torch.randn(batch, steps, n, feats, requires_grad=True)
    grad = torch.randn(batch, steps, n, feats)
    g = Disjoint(ei, n, batch * steps)
    generic = mp_layers(g, ei, ew, n)
    layers: dict[str, nn.Module | None] = {
        "propagate": None,  # the normalised propagation alone, no feature transform
        "gcn": GCNConv(feats, feats),
        "cheb": ChebConv(feats, feats, k=3),
        "diffusion": DiffusionConv(feats, feats, k=2),
    }
    prop = GraphOperator(*normalize(ei, ew, n, "sym", True), n)
    layout = choose_layout(n, ei.size(1) + n, batch * steps * feats)
    print(
        f"\nN={n} E={ei.size(1)} (density {ei.size(1) / n**2:.1%}) B={batch} T={steps} "
        f"F={feats}; auto layout: {layout}; median of {repeat}"
    )
    print(f"{'layer':<12}{'fast ms':>10}{'PyG MP ms':>12}{'ratio':>8}")
    for name, m in layers.items():
        fast = (lambda: prop(x)) if m is None else (lambda m=m: m(x, ei, ew))
        slow = lambda m=m, name=name: generic[name](m, x)  # noqa: E731
        torch.testing.assert_close(fast(), slow(), atol=1e-3, rtol=1e-3)
        timed(fast, grad), timed(slow, grad)  # warm-up: caches, operators, allocator
        a, b = [], []
        for _ in range(repeat):
            a.append(timed(fast, grad))
            b.append(timed(slow, grad))
        fa, fb = statistics.median(a), statistics.median(b)
        print(f"{name:<12}{fa:>10.1f}{fb:>12.1f}{fb / fa:>7.1f}x")
    gat = GATConv(feats, feats, heads=4)
    t = statistics.median(timed(lambda: gat(x, ei, ew), grad) for _ in range(max(1, repeat // 2)))
    print(
        f"{'gat (MP)':<12}{t:>10.1f}{'-':>12}{'-':>8}   (attention on edges: MessagePassing only)"
    )


def bench_auto(repeat: int) -> None:
    """Dense vs CSR ``GraphOperator`` (forward+backward) over N and mean degree."""
    print("\nauto rule: dense vs CSR propagation, B*T*F = 8*12*64 columns")
    print(f"{'N':>6}{'degree':>8}{'dense ms':>10}{'csr ms':>9}{'faster':>8}{'auto':>8}")
    for n in (100, 207, 400, 800, 1600):
        for deg in (4, 16, 64):
            if deg >= n:
                continue
            ei, ew = knn_graph(n, deg)
            x = torch.randn(8, 12, n, 64, requires_grad=True)
            grad = torch.randn_like(x)
            ops = {lay: GraphOperator(ei, ew, n, lay) for lay in ("dense", "sparse")}  # type: ignore[arg-type]
            t = {lay: [] for lay in ops}
            for _ in range(repeat):
                for lay, op in ops.items():
                    t[lay].append(timed(lambda op=op, x=x: op(x), grad))
            d, s = statistics.median(t["dense"]), statistics.median(t["sparse"])
            faster = "dense" if d < s else "csr"
            auto = "dense" if choose_layout(n, ei.size(1), 8 * 12 * 64) == "dense" else "csr"
            print(f"{n:>6}{ei.size(1) / n:>8.1f}{d:>10.1f}{s:>9.1f}{faster:>8}{auto:>8}")


def heap_allocator() -> bool:
    """Serve every later allocation from the reusable heap (glibc only): no ``mmap`` per
    large tensor (``M_MMAP_MAX = 0``) and no trimming of freed memory back to the system."""
    if platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_max = -1, -4
    return bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2**34))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, nargs="*", default=[207, 2000])
    ap.add_argument("--batch", type=int, default=None, help="default 64 (8 for N > 1000)")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--features", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--auto", action="store_true", help="re-measure the dense/CSR crossover")
    ap.add_argument(
        "--allocator",
        choices=("default", "heap", "both"),
        default="both",
        help="glibc defaults, mmap off (see above), or the defaults first and then mmap off",
    )
    args = ap.parse_args()
    if args.allocator == "both":  # a fresh process per allocator: neither inherits the other's heap
        for mode in ("default", "heap"):
            cmd = [sys.executable, __file__, *sys.argv[1:], "--allocator", mode]
            subprocess.run(cmd, check=True)
        return
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.allocator == "heap" and not heap_allocator():
        sys.exit("--allocator heap needs glibc (mallopt)")
    print(f"\n=== allocator: {args.allocator} ===")
    for n in args.nodes:
        batch = args.batch or (64 if n <= 1000 else 8)
        bench_layers(n, batch, args.steps, args.features, args.repeat)
    if args.auto:
        bench_auto(args.repeat)


if __name__ == "__main__":
    main()
