"""The peer libraries' models for ``tools/bench/peers.py``, each wrapped to stgraph's shapes.

Every wrapper takes ``x [B, L, N, F]`` (and, for GMAN, the calendar covariates) and returns
``[B, H, N, F]``; the graph is bound at construction, in the peer's fastest supported form
(a ``torch_sparse.SparseTensor`` with cached normalisation where the layer accepts one). One
:class:`Peer` per (library, architecture) says how it is built, which size knob
:func:`fit` turns to match stgraph's parameter count, and where the architectures differ.

Imported only by ``peers.py`` in ``.bench-venv`` (never by CI or the tests).
"""

from __future__ import annotations

import importlib.metadata as md
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass
class Ctx:
    """What a builder needs: the problem shape and the graph (PyG convention: an edge
    ``j -> i`` is ``edge_index[:, e] = (j, i)``)."""

    n: int
    f: int
    lookback: int
    horizon: int
    batch: int
    edge_index: Tensor
    edge_weight: Tensor

    sparse: bool = True

    def graph(self) -> tuple[object, Tensor | None]:
        """``(adjacency, edge_weight)`` as the peer layers take them: PyG's transposed
        ``SparseTensor`` (row = target, weights inside) when ``sparse``, else the COO pair."""
        if not self.sparse:
            return self.edge_index, self.edge_weight
        from torch_sparse import SparseTensor

        src, dst = self.edge_index
        adj = SparseTensor(row=dst, col=src, value=self.edge_weight, sparse_sizes=(self.n,) * 2)
        return adj, None


@dataclass
class Peer:
    """One peer model: ``build(size, ctx)`` -> module ``(x, cov) -> [B, H, N, F]``."""

    lib: str
    arch: str
    build: Callable[[int, Ctx], nn.Module]
    sizes: list[int]  # candidate values of the size knob (one value: fixed)
    knob: str
    config: str
    differs: str
    max_nodes: int = 10**9


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters() if p.requires_grad)


def fit(peer: Peer, ctx: Ctx, target: int) -> tuple[int, nn.Module]:
    """The knob value whose parameter count is closest to ``target`` (bisection; the count
    grows with the knob), and the model built with it."""
    lo, hi = 0, len(peer.sizes) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if n_params(peer.build(peer.sizes[mid], ctx)) < target:
            lo = mid + 1
        else:
            hi = mid
    best = min(
        {max(lo - 1, 0), lo},
        key=lambda i: abs(n_params(peer.build(peer.sizes[i], ctx)) - target),
    )
    torch.manual_seed(0)
    return peer.sizes[best], peer.build(peer.sizes[best], ctx)


def _to_bhnf(y: Tensor, ctx: Ctx) -> Tensor:
    """``[B, N, H * F]`` -> ``[B, H, N, F]``."""
    return y.view(y.shape[0], ctx.n, ctx.horizon, ctx.f).transpose(1, 2)


# ----------------------------------------------------------------------------- tsl


class Tsl(nn.Module):
    """A tsl model called as ``model(x, adj)`` (tsl models take ``[B, L, N, F]``)."""

    def __init__(self, model: nn.Module, adj: object = None, weight: Tensor | None = None) -> None:
        super().__init__()
        self.model, self.adj, self.weight = model, adj, weight

    def forward(self, x: Tensor, cov: Tensor | None = None) -> Tensor:
        if self.adj is None:
            return self.model(x)
        return self.model(x, self.adj, self.weight)


def tsl_dcrnn(size: int, c: Ctx) -> nn.Module:
    from tsl.nn.models import DCRNNModel

    m = DCRNNModel(c.f, c.f, c.horizon, hidden_size=64, kernel_size=2, ff_size=size, n_layers=2)
    m.cache_support = True
    return Tsl(m, *c.graph())


def tsl_gwnet(size: int, c: Ctx) -> nn.Module:
    from tsl.nn.models import GraphWaveNetModel

    m = GraphWaveNetModel(
        c.f, c.f, c.horizon, hidden_size=32, ff_size=size, n_layers=8, temporal_kernel_size=2,
        spatial_kernel_size=2, learned_adjacency=True, n_nodes=c.n, emb_size=10, dilation=2,
        dilation_mod=2, dropout=0.3,
    )  # fmt: skip
    return Tsl(m, *c.graph())


def tsl_agcrn(size: int, c: Ctx) -> nn.Module:
    from tsl.nn.models import AGCRNModel

    m = AGCRNModel(c.f, c.f, c.horizon, n_nodes=c.n, hidden_size=size, emb_size=10, n_layers=2)
    return Tsl(m)


# ----------------------------------------------------------------------------- PGT


class PgtRecurrent(nn.Module):
    """PGT recurrent cells run over the ``L`` steps, a linear map from the last state (or
    A3TGCN2's attention-pooled state) to all ``H`` steps."""

    def __init__(self, cells: nn.ModuleList, hidden: int, ctx: Ctx, kind: str, graph) -> None:
        super().__init__()
        self.cells, self.kind, self.graph, self.ctx = cells, kind, graph, ctx
        self.head = nn.Linear(hidden, ctx.horizon * ctx.f)
        self.emb = nn.Parameter(torch.randn(ctx.n, 10)) if kind == "agcrn" else None

    def forward(self, x: Tensor, cov: Tensor | None = None) -> Tensor:
        g = self.graph
        if self.kind == "dcrnn":  # BatchedDCRNN runs the whole sequence itself
            h = x
            for cell in self.cells:
                h = cell(h, *g)
            last = h[:, -1]
        elif self.kind == "a3tgcn":  # A3TGCN2 takes [B, N, F, L] and pools over L itself
            last = self.cells[0](x.permute(0, 2, 3, 1), *g)
        else:
            hs: list[Tensor | None] = [None] * len(self.cells)
            for t in range(x.shape[1]):
                inp = x[:, t]
                for j, cell in enumerate(self.cells):
                    hs[j] = inp = (
                        cell(inp, self.emb, hs[j])
                        if self.emb is not None
                        else cell(inp, *g, H=hs[j])
                    )
            last = inp
        return _to_bhnf(self.head(last), self.ctx)


def pgt_dcrnn(size: int, c: Ctx) -> nn.Module:
    from torch_geometric_temporal.nn.recurrent import BatchedDCRNN

    cells = nn.ModuleList(BatchedDCRNN(c.f if j == 0 else 64, 64, K=3) for j in range(2))
    return PgtRecurrent(cells, 64, c, "dcrnn", (c.edge_index, c.edge_weight))


def pgt_tgcn(size: int, c: Ctx) -> nn.Module:
    from torch_geometric_temporal.nn.recurrent import TGCN2

    cells = nn.ModuleList([TGCN2(c.f, size, c.batch, cached=True)])
    return PgtRecurrent(cells, size, c, "tgcn", c.graph())


def pgt_a3tgcn(size: int, c: Ctx) -> nn.Module:
    from torch_geometric_temporal.nn.recurrent import A3TGCN2

    cells = nn.ModuleList([A3TGCN2(c.f, size, c.lookback, c.batch, cached=True)])
    return PgtRecurrent(cells, size, c, "a3tgcn", c.graph())


def pgt_agcrn(size: int, c: Ctx) -> nn.Module:
    from torch_geometric_temporal.nn.recurrent import AGCRN

    cells = nn.ModuleList(AGCRN(c.n, c.f if j == 0 else size, size, 2, 10) for j in range(2))
    return PgtRecurrent(cells, size, c, "agcrn", None)


class PgtSTGCN(nn.Module):
    """Two PGT ``STConv`` blocks (64 temporal channels, ``size`` graph channels), then the
    STGCN output layer from PGT's ``TemporalConv`` over the remaining steps and a linear map."""

    def __init__(self, size: int, c: Ctx) -> None:
        from torch_geometric_temporal.nn.attention import STConv
        from torch_geometric_temporal.nn.attention.stgcn import TemporalConv

        super().__init__()
        self.c = c
        self.blocks = nn.ModuleList(
            STConv(c.n, c.f if j == 0 else 64, size, 64, kernel_size=3, K=3) for j in range(2)
        )
        self.out = TemporalConv(64, 64, kernel_size=c.lookback - 8)
        self.norm = nn.LayerNorm([c.n, 64])
        self.head = nn.Linear(64, c.horizon * c.f)

    def forward(self, x: Tensor, cov: Tensor | None = None) -> Tensor:
        for block in self.blocks:
            x = block(x, self.c.edge_index, self.c.edge_weight)
        return _to_bhnf(self.head(self.norm(self.out(x))[:, -1]), self.c)


class PgtASTGCN(nn.Module):
    """PGT ``ASTGCN`` predicting ``H * F`` values per node (its output layer maps the ``L``
    steps to ``num_for_predict`` channels)."""

    def __init__(self, size: int, c: Ctx) -> None:
        from torch_geometric_temporal.nn.attention import ASTGCN

        super().__init__()
        self.c = c
        self.model = ASTGCN(2, c.f, 3, size, size, 1, c.horizon * c.f, c.lookback, c.n, "sym")

    def forward(self, x: Tensor, cov: Tensor | None = None) -> Tensor:
        return _to_bhnf(self.model(x.permute(0, 2, 3, 1), self.c.edge_index), self.c)


class PgtGMAN(nn.Module):
    """PGT ``GMAN`` (univariate: it reads feature 0 and predicts one feature, repeated to
    ``F``); the spatial embedding is a fixed random ``[N, D]`` input, the temporal one the
    calendar of the ``L + H`` steps."""

    def __init__(self, size: int, c: Ctx) -> None:
        from torch_geometric_temporal.nn.attention import GMAN

        super().__init__()
        self.c = c
        self.model = GMAN(3, 8, size, c.lookback, 0.1, 288, True, False)
        self.register_buffer("se", torch.randn(c.n, 8 * size))

    def forward(self, x: Tensor, cov: Tensor | None = None) -> Tensor:
        assert cov is not None
        te = torch.stack([cov[:, :, 0, 1], cov[:, :, 0, 0] * 288], -1)  # day of week, slot
        y = self.model(x[..., 0], self.se, te)
        return y.unsqueeze(-1).expand(-1, -1, -1, self.c.f)


def peers() -> list[Peer]:
    """Every (peer library, architecture) pair benchmarked, keyed by stgraph's name."""
    rng = list(range(4, 257))
    return [
        Peer("tsl", "dcrnn", tsl_dcrnn, [256], "ff_size (readout)",
             "DCRNNModel, SparseTensor adjacency, cache_support=True, hidden 64, 2 layers, K=2",
             "encoder + MLP read-out (stgraph: seq2seq encoder-decoder); hidden sizes matched"),
        Peer("PGT", "dcrnn", pgt_dcrnn, [64], "hidden",
             "2 x BatchedDCRNN (batched, cached norm; edge_index only), K=3 (=2 hops), "
             "linear head",
             "encoder + linear head (stgraph: seq2seq); PGT's k>=2 hops are Chebyshev-like "
             "(2 P T1 - T0) and the 0-hop term has two weights"),
        Peer("tsl", "graph-wavenet", tsl_gwnet, rng, "ff_size (skip)",
             "GraphWaveNetModel, SparseTensor adjacency (support recomputed per call: the "
             "model exposes no cache), learned adjacency, 8 layers",
             "same layout (8 gated TCN + diffusion + adaptive layers, skip/MLP read-out)"),
        Peer("PGT", "tgcn", pgt_tgcn, rng, "hidden",
             "TGCN2 over L steps, GCNConv cached=True on SparseTensor, linear head",
             "PGT's GCN sees the input only (state mixed by Linear); stgraph's GCN sees "
             "[x, h]"),
        Peer("PGT", "a3tgcn", pgt_a3tgcn, rng, "hidden",
             "A3TGCN2, GCNConv cached=True on SparseTensor, linear head",
             "PGT's A3TGCN2 restarts the GRU from zero at every step (state not carried) and "
             "pools with a learned softmax per step"),
        Peer("PGT", "stgcn", lambda s, c: PgtSTGCN(s, c), rng, "graph channels",
             "2 x STConv (ChebConv K=3, sym; edge_index only) + TemporalConv output layer",
             "STConv loops ChebConv over every (batch, step) in Python; its graph conv is "
             "hidden->hidden (stgraph: 64->16 bottleneck); BatchNorm over nodes. stgraph's "
             "per-node LayerNorms ([N, 64] affine) hold half its parameters at N=207 and 90% "
             "at N=2,000, so matching counts widens PGT's graph conv: an upper bound"),
        Peer("tsl", "agcrn", tsl_agcrn, rng, "hidden",
             "AGCRNModel, 2 layers, emb 10 (adaptive graph: no adjacency input)",
             "tsl adds an input Linear (F->hidden) before the cells"),
        Peer("PGT", "agcrn", pgt_agcrn, rng, "hidden",
             "2 x AGCRN cells (K=2, emb 10) + linear head",
             "same cell; PGT recomputes the adaptive support in every cell call"),
        Peer("PGT", "astgcn", lambda s, c: PgtASTGCN(s, c), rng, "filters",
             "ASTGCN 2 blocks, K=3, normalization='sym' (no per-call lambda_max eigensolve)",
             "PGT ignores edge weights; one ChebConvAttention call per step"),
        Peer("PGT", "gman", lambda s, c: PgtGMAN(s, c), list(range(1, 33)), "head dim d",
             "GMAN L=3 blocks, K=8 heads, univariate", "PGT GMAN is univariate (feature 0)",
             max_nodes=500),
    ]  # fmt: skip


def versions() -> str:
    """torch, PyG and the peers' installed versions (and whether torch_sparse is stubbed)."""
    out = [f"torch {torch.__version__}"]
    for pkg in ("torch-geometric", "torch-geometric-temporal", "torch-spatiotemporal",
                "torch-sparse", "torch-scatter"):  # fmt: skip
        try:
            out.append(f"{pkg} {md.version(pkg)}")
        except md.PackageNotFoundError:
            out.append(f"{pkg} missing")
    if getattr(sys.modules.get("torch_sparse"), "__version__", "") == "stub":
        out.append("torch_sparse STUBBED (--stub-torch-sparse: COO edge_index paths only)")
    return ", ".join(out)


def stub_torch_sparse() -> None:
    """Fallback while torch_sparse is not built: a placeholder module so the peers import;
    only their COO ``edge_index`` paths (no torch_sparse call) can then run. PyG is imported
    first, so it records that torch_sparse is absent."""
    from torch_geometric.typing import SparseTensor

    def missing(*args: object, **kwargs: object) -> None:
        raise RuntimeError("torch_sparse is stubbed (--stub-torch-sparse)")

    mod = types.ModuleType("torch_sparse")
    mod.__getattr__ = lambda name: missing  # type: ignore[method-assign]
    mod.SparseTensor = SparseTensor  # type: ignore[attr-defined]
    mod.__version__ = "stub"  # type: ignore[attr-defined]
    sys.modules["torch_sparse"] = mod
