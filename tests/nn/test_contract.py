"""One contract test over every layer of ``stgraph.nn`` (a table, looped by every property).

Each row builds a layer for inputs ``x: [B, T, N, F_IN]`` on a small random graph and says
which properties apply: graph layers must be permutation-equivariant, causal layers must
ignore the future, layers with two propagation backends must agree across them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
import torch
from torch import Tensor, nn

import stgraph.nn as snn

B, T, N, F_IN, F_OUT = 3, 5, 6, 4, 8
GRID = (2, 3)


@dataclass(frozen=True)
class Case:
    """A layer row: ``build(**layout)`` -> module; ``call(m, x, ei, ew)`` -> output."""

    name: str
    build: Callable[..., nn.Module]
    out: int = F_OUT
    graph: bool = True
    equivariant: bool = True
    causal: bool = True
    layouts: tuple[str, ...] = ()
    call: Callable[[nn.Module, Tensor, Tensor, Tensor], Tensor] | None = None


def _spatial(m: nn.Module, x: Tensor, ei: Tensor, ew: Tensor) -> Tensor:
    return m(x, ei, ew)


def _temporal(m: nn.Module, x: Tensor, ei: Tensor, ew: Tensor) -> Tensor:
    return m(x)


def _cross(m: nn.Module, x: Tensor, ei: Tensor, ew: Tensor) -> Tensor:
    """Cross attention of every node's sequence over a covariate-like memory derived from x
    (so batch independence and equivariance still apply)."""
    return m(x, torch.tanh(x[:, :, :, :F_IN]).flip(1))


def _typed(m: nn.Module, x: Tensor, ei: Tensor, ew: Tensor) -> Tensor:
    """Typed-edge call: edge ``e`` gets one of the 8 non-centre offsets by its position
    (types follow the edges, not the node labels, so relabelling keeps them)."""
    offsets = torch.tensor([0, 1, 2, 3, 5, 6, 7, 8])
    return m(x, ei, ew, offsets[torch.arange(ei.shape[1]) % 8])


def _grid(factory: Callable[..., nn.Module]) -> Callable[[int, int], nn.Module]:
    return partial(factory, grid=GRID)


CASES = [
    Case("gcn", partial(snn.GCNConv, F_IN, F_OUT), layouts=("dense", "sparse")),
    Case("cheb", partial(snn.ChebConv, F_IN, F_OUT, k=3), layouts=("dense", "sparse")),
    Case("diffusion", partial(snn.DiffusionConv, F_IN, F_OUT, k=2), layouts=("dense", "sparse")),
    Case("gat", partial(snn.GATConv, F_IN, F_OUT, heads=2), layouts=("dense", "sparse")),
    Case("spatial-attention", partial(snn.SpatialAttention, F_IN, F_OUT, heads=2)),
    Case(
        "spatial-attention-unmasked",
        partial(snn.SpatialAttention, F_IN, F_OUT, heads=2, masked=False),
    ),
    Case("adaptive-gcn", partial(snn.AdaptiveGraphConv, F_IN, F_OUT, N), equivariant=False),
    Case("pointwise", partial(snn.Pointwise, F_IN, F_OUT)),
    Case("grid-conv", partial(snn.GridConv, F_IN, F_OUT, GRID), equivariant=False),
    Case("lattice-conv", partial(snn.LatticeConv, F_IN, F_OUT), call=_typed),
    Case("attention-cnn-graph", partial(snn.AttentionCNN, F_IN, F_OUT, reduction=2)),
    Case(
        "attention-cnn-grid",
        partial(snn.AttentionCNN, F_IN, F_OUT, _grid(snn.GridConv), reduction=2),
        equivariant=False,
    ),
    Case("lstm", partial(snn.TemporalLSTM, F_IN, F_OUT), graph=False),
    Case("gru", partial(snn.TemporalGRU, F_IN, F_OUT, layers=2), graph=False),
    Case("tcn", partial(snn.GatedTemporalConv, F_IN, F_OUT, 2, 2), graph=False),
    Case(
        "temporal-self-attention-causal",
        partial(snn.TemporalAttention, F_IN, heads=2, causal=True),
        out=F_IN,
        graph=False,
    ),
    Case(
        "temporal-self-attention",
        partial(snn.TemporalAttention, F_IN, heads=2),
        out=F_IN,
        graph=False,
        causal=False,
    ),
    Case(
        "temporal-cross-attention",
        partial(snn.TemporalAttention, F_IN, heads=2),
        out=F_IN,
        graph=False,
        causal=False,
        call=_cross,
    ),
    Case(
        "multi-head-attention-time",
        partial(snn.MultiHeadAttention, F_OUT, 2, q_dim=F_IN, kv_dim=F_IN, axis=1),
        graph=False,
        call=lambda m, x, ei, ew: m(x, causal=True),
    ),
    Case(
        "additive-attention",
        partial(snn.AdditiveAttention, F_IN, F_IN, 6, axis=1),
        out=F_IN,
        graph=False,
        call=lambda m, x, ei, ew: m(x, causal=True),
    ),
    Case(
        "interactive-attention",
        partial(snn.InteractiveAttention, F_IN, F_IN, axis=1),
        out=F_IN,
        graph=False,
        causal=False,
        call=_cross,
    ),
    Case(
        "graph-gru",
        lambda: snn.RecurrentLayer(snn.GraphGRUCell(F_IN, F_OUT, partial(snn.DiffusionConv, k=1))),
    ),
    Case(
        "graph-lstm-gat",
        lambda: snn.RecurrentLayer(snn.GraphLSTMCell(F_IN, F_OUT, partial(snn.GATConv, heads=2))),
    ),
    Case("attention-lstm", partial(snn.AttentionLSTM, F_IN, F_OUT), graph=False),
    Case("attention-gru-graph", partial(snn.AttentionGRU, F_IN, F_OUT, snn.ChebConv)),
    Case("conv-lstm", partial(snn.ConvLSTM, F_IN, F_OUT, GRID), equivariant=False),
    Case(
        "residual-st-block",
        lambda: snn.ResidualSTBlock(
            F_IN, snn.GCNConv(F_IN, F_IN), snn.TemporalAttention(F_IN, 2, causal=True), 0.1
        ),
        out=F_IN,
    ),
    Case("channel-attention", partial(snn.ChannelAttention, F_IN, 2), out=F_IN, graph=False),
]
EXEMPT = {
    "CalendarEmbedding": "embeds calendar covariates, not [B, T, N, F] features (test_encoding)",
    "AdaptiveAdjacency": "has no input: produces the [N, N] matrix (test_adaptive)",
    "FeedForward": "position-wise MLP, exercised inside residual-st-block",
    "GraphGRUCell": "a single step, exercised by graph-gru / attention-gru-graph",
    "GraphLSTMCell": "a single step, exercised by graph-lstm-gat / conv-lstm",
    "RecurrentLayer": "exercised by graph-gru and graph-lstm-gat",
    "GraphOperator": "not a module (test_propagate)",
}
IDS = [c.name for c in CASES]


def _graph(n: int = N, seed: int = 0) -> tuple[Tensor, Tensor]:
    """A random directed graph without duplicate edges or self-loops, ring-connected, whose
    reverse edges are also present (Chebyshev expects a symmetric graph)."""
    g = torch.Generator().manual_seed(seed)
    adj = torch.rand(n, n, generator=g) < 0.3
    ring = torch.arange(n)
    adj[ring, (ring + 1) % n] = True
    adj = (adj | adj.t()) & ~torch.eye(n, dtype=torch.bool)
    ei = adj.nonzero().t().contiguous()
    w = torch.rand(n, n, generator=g) + 0.1
    w = w + w.t()
    return ei, w[ei[0], ei[1]]


def _build(case: Case, seed: int = 0, **kw: Any) -> nn.Module:
    torch.manual_seed(seed)
    return case.build(**kw)


def _run(case: Case, m: nn.Module, x: Tensor, ei: Tensor, ew: Tensor) -> Tensor:
    call = case.call or (_spatial if case.graph else _temporal)
    return call(m, x, ei, ew)


def _x(seed: int = 1, batch: int = B) -> Tensor:
    return torch.randn(batch, T, N, F_IN, generator=torch.Generator().manual_seed(seed))


def test_every_public_layer_is_in_the_contract_table():
    """Registry completeness: a new public layer without a row (or an exemption) fails."""
    covered = {type(_build(c)).__name__ for c in CASES} | set(EXEMPT)
    public = {
        name
        for name in snn.__all__
        if inspect.isclass(obj := getattr(snn, name)) and issubclass(obj, nn.Module)
    }
    assert public - covered == set()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_shapes_and_gradients_reach_every_parameter(case):
    m = _build(case)
    ei, ew = _graph()
    out = _run(case, m, _x(), ei, ew)
    assert out.shape == (B, T, N, case.out)
    (out * torch.randn_like(out)).sum().backward()
    dead = [
        n
        for n, p in m.named_parameters()
        if p.grad is None or not torch.isfinite(p.grad).all() or p.grad.abs().sum() == 0
    ]
    assert dead == []


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_results_do_not_depend_on_the_batch(case):
    m = _build(case).eval()
    ei, ew = _graph()
    x = _x()
    with torch.no_grad():
        full = _run(case, m, x, ei, ew)
        one = _run(case, m, x[1:2], ei, ew)
    torch.testing.assert_close(full[1:2], one, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.graph and c.equivariant], ids=lambda c: c.name
)
def test_graph_layers_are_permutation_equivariant(case):
    """Permuting the nodes and relabelling the edges permutes the output."""
    m = _build(case).eval()
    ei, ew = _graph()
    x = _x()
    perm = torch.randperm(N, generator=torch.Generator().manual_seed(3))
    relabel = torch.empty_like(perm)
    relabel[perm] = torch.arange(N)  # node perm[i] becomes node i
    with torch.no_grad():
        out = _run(case, m, x, ei, ew)
        out_p = _run(case, m, x[:, :, perm], relabel[ei], ew)
    torch.testing.assert_close(out_p, out[:, :, perm], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("case", [c for c in CASES if c.causal], ids=lambda c: c.name)
def test_causal_layers_ignore_the_future(case):
    """Perturbing steps > t leaves every output at steps <= t unchanged."""
    m = _build(case).eval()
    ei, ew = _graph()
    x = _x()
    t = T // 2
    y = x.clone()
    y[:, t + 1 :] += 10 * torch.randn_like(y[:, t + 1 :])
    with torch.no_grad():
        a, b = _run(case, m, x, ei, ew), _run(case, m, y, ei, ew)
    torch.testing.assert_close(a[:, : t + 1], b[:, : t + 1], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(a[:, t + 1 :], b[:, t + 1 :])


@pytest.mark.parametrize("case", [c for c in CASES if c.layouts], ids=lambda c: c.name)
def test_sparse_and_dense_paths_agree(case):
    ei, ew = _graph()
    x = _x().requires_grad_(True)
    outs, grads = [], []
    for layout in case.layouts:
        m = _build(case, layout=layout)
        out = _run(case, m, x, ei, ew)
        (g,) = torch.autograd.grad((out * torch.cos(out)).sum(), x)
        outs.append(out)
        grads.append(g)
    torch.testing.assert_close(outs[0], outs[1], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(grads[0], grads[1], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_reset_parameters_reinitialises_every_parameter_and_repr_shows_hyperparameters(case):
    m = _build(case)
    with torch.no_grad():
        for p in m.parameters():
            p.fill_(float("nan"))
    m.reset_parameters()
    assert all(torch.isfinite(p).all() for p in m.parameters())
    assert m.extra_repr() or any(c.extra_repr() for c in m.children())
