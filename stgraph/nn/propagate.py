r"""Fast fixed-graph propagation: ``P x`` for ``x`` of shape ``[..., N, F]``.

A :class:`GraphOperator` turns a (normalised) edge list into a dense matrix or a
``torch.sparse`` CSR matrix once and applies it to any number of leading batch/time dims:
the dense product broadcasts over them (no copy), the CSR product folds them into columns
(:func:`stgraph.nn.fold.nodes_first`). :func:`cached_operator` memoises an operator on a
module, keyed by the identity and version of the edge tensors, so a model that sees the same
fixed graph every step builds it once.

The ``"auto"`` layout picks the cheaper product from a cost model measured on CPU
(``tools/bench/layers.py --auto`` re-measures it): a dense product costs about ``N^2`` per
column whatever the sparsity, a CSR product about ``DENSE_NNZ_COST * nnz`` (the sparse
kernel is ~10x slower per non-zero than a dense GEMM) plus ``DENSE_NODE_COST * N`` (the two
layout copies of :func:`~stgraph.nn.fold.nodes_first`, which the dense product avoids).
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import Tensor, nn

from stgraph.graph.normalization import (
    Normalization,
    normalize,
    propagation_csr,
    propagation_dense,
    reverse,
)
from stgraph.nn.fold import nodes_first, nodes_last

Layout = Literal["auto", "dense", "sparse"]
DENSE_NNZ_COST = 10.0
"""Cost of one CSR non-zero in units of one dense ``N x N`` entry (measured)."""
DENSE_NODE_COST = 400.0
"""Cost of the CSR layout copies per node, in the same units (measured)."""


def choose_layout(num_nodes: int, nnz: int) -> Literal["dense", "sparse"]:
    r"""The ``"auto"`` rule: dense when :math:`N^2 \le 10\,\mathrm{nnz} + 400\,N`, i.e. when
    :math:`N \le 400 + 10\,\bar d` with :math:`\bar d` the mean in-degree.

    Every graph up to 400 nodes is dense (at N=207 the dense product beats CSR 2-4x even at
    5 % density), an 800-node graph from 40 neighbours per node, a 2,000-node graph from
    160. Measured on a 2-core AVX-512 CPU with ``B*T*F`` = 6,144 columns (the ratio hardly
    depends on the column count: every term is linear in it).

    Shapes:
        num_nodes: ``N``; nnz: number of non-zeros of ``P``
    """
    dense = num_nodes**2 <= DENSE_NNZ_COST * nnz + DENSE_NODE_COST * num_nodes
    return "dense" if dense else "sparse"


class _FixedPropagation(torch.autograd.Function):
    """``alpha * P x + add`` with a constant ``P``: the backward pass is ``alpha * P^T g``
    with a stored transpose (a CSR transpose would otherwise be rebuilt every step, and a
    broadcast ``torch.matmul`` with a stride-0 gradient, as ``out.sum().backward()`` sends,
    is pathologically slow)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, add: Tensor | None, op: GraphOperator, alpha: float) -> Tensor:
        ctx.op, ctx.alpha, ctx.has_add = op, alpha, add is not None
        return op.apply(op.matrix, x, add, alpha)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor | None, None, None]:
        op: GraphOperator = ctx.op
        gx = op.apply(op.transposed(), grad.contiguous(), None, ctx.alpha)
        return gx, grad if ctx.has_add else None, None, None


class GraphOperator:
    """Linear operator ``x -> alpha * P x (+ add)`` over the node axis, with
    ``P[target, source] = w``.

    Args:
        edge_index: source/target indices.
        edge_weight: weights (already normalised as wanted); may require grad.
        num_nodes: ``N``.
        layout: ``"dense"``, ``"sparse"`` (CSR) or ``"auto"`` (:func:`choose_layout`).

    Shapes:
        edge_index: [2, E], edge_weight: [E]
        __call__: x [..., N, F], add [..., N, F] (optional, fused into the product)
        -> [..., N, F]
    """

    def __init__(
        self, edge_index: Tensor, edge_weight: Tensor, num_nodes: int, layout: Layout = "auto"
    ) -> None:
        if layout == "auto":
            layout = choose_layout(num_nodes, edge_index.size(1))
        if layout == "dense":
            matrix = propagation_dense(edge_index, edge_weight, num_nodes)
        elif layout == "sparse":
            matrix = propagation_csr(edge_index, edge_weight, num_nodes)
        else:
            raise ValueError(f"layout must be 'auto', 'dense' or 'sparse', got {layout!r}")
        self._init(matrix, layout)

    @classmethod
    def from_dense(cls, matrix: Tensor) -> GraphOperator:
        """Wrap a dense ``[N, N]`` propagation matrix (e.g. a learned adjacency)."""
        op = cls.__new__(cls)
        op._init(matrix, "dense")
        return op

    def _init(self, matrix: Tensor, layout: str) -> None:
        self.matrix, self.layout, self.num_nodes = matrix, layout, matrix.shape[0]
        self._transposed: Tensor | None = None

    def transposed(self) -> Tensor:
        """``P^T`` in the same layout (built once)."""
        if self._transposed is None:
            if self.layout == "dense":
                self._transposed = self.matrix.t().contiguous()
            else:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message="Sparse CSR tensor support")
                    self._transposed = self.matrix.t().to_sparse_csr()
        return self._transposed

    def apply(
        self, matrix: Tensor, x: Tensor, add: Tensor | None = None, alpha: float = 1.0
    ) -> Tensor:
        """``alpha * matrix @ x + add`` over the node axis (plain autograd). Dense: one
        batched GEMM over the folded leading dims, the addition fused (``baddbmm``)."""
        if self.layout == "sparse":
            out = nodes_last(torch.sparse.mm(matrix, nodes_first(x)), tuple(x.shape))
            return out * alpha if add is None else torch.add(add, out, alpha=alpha)
        n, f = x.shape[-2], x.shape[-1]
        x3 = x.reshape(-1, n, f)
        p3 = matrix.expand(x3.shape[0], n, n)
        if add is None:
            out = torch.bmm(p3, x3)
            out = out if alpha == 1.0 else out * alpha
        else:
            out = torch.baddbmm(add.reshape(x3.shape), p3, x3, alpha=alpha)
        return out.reshape(x.shape)

    def __call__(self, x: Tensor, add: Tensor | None = None, alpha: float = 1.0) -> Tensor:
        n = x.shape[-2]
        if n != self.num_nodes:
            raise ValueError(f"operator has {self.num_nodes} nodes, input has {n} (dim -2)")
        if add is not None and add.shape != x.shape:
            raise ValueError(f"add must have the shape of x {tuple(x.shape)}, got {add.shape}")
        if self.matrix.dtype != x.dtype or self.matrix.device != x.device:
            self._init(self.matrix.to(x.device, x.dtype), self.layout)
        if self.matrix.requires_grad:
            return self.apply(self.matrix, x, add, alpha)
        out: Tensor = _FixedPropagation.apply(x, add, self, alpha)
        return out


def _key(*tensors: Tensor) -> tuple:
    return tuple((t._version, tuple(t.shape), t.device, t.dtype) for t in tensors)


def _same(refs: tuple[weakref.ref, ...], tensors: tuple[Tensor, ...]) -> bool:
    return len(refs) == len(tensors) and all(r() is t for r, t in zip(refs, tensors, strict=True))


def cached_operator(
    module: nn.Module,
    name: str,
    edge_index: Tensor,
    edge_weight: Tensor | None,
    build: Callable[[Tensor, Tensor | None], GraphOperator],
) -> GraphOperator:
    """Return ``build(edge_index, edge_weight)``, memoised on ``module`` under ``name``.

    The cache holds weak references to the edge tensors and their in-place version counters:
    the very same tensor objects, unchanged, hit; a new tensor (even at a recycled address),
    an in-place change or a freed graph rebuilds it. Learnable weights
    (``edge_weight.requires_grad``) are never cached, so gradients still reach them.
    """
    tensors = (edge_index,) if edge_weight is None else (edge_index, edge_weight)
    if edge_weight is not None and edge_weight.requires_grad and torch.is_grad_enabled():
        return build(edge_index, edge_weight)
    key = _key(*tensors)
    cache: dict[str, tuple[tuple, tuple, GraphOperator]] = module.__dict__.setdefault(
        "_stgraph_op_cache", {}
    )
    hit = cache.get(name)
    if hit is not None and hit[1] == key and _same(hit[0], tensors):
        return hit[2]
    op = build(edge_index, edge_weight)
    cache[name] = (tuple(weakref.ref(t) for t in tensors), key, op)
    return op


def graph_operator(
    module: nn.Module,
    edge_index: Tensor,
    edge_weight: Tensor | None,
    num_nodes: int,
    kind: Normalization,
    *,
    self_loops: bool = False,
    against_edges: bool = False,
    scale: float = 1.0,
    layout: Layout = "auto",
) -> GraphOperator:
    """The normalised propagation operator a layer needs, cached on the layer.

    Args:
        module: the layer that owns the cache.
        edge_index: source/target indices.
        edge_weight: raw weights (``None`` = ones).
        num_nodes: ``N``.
        kind: normalisation (see :func:`stgraph.graph.normalization.normalize`).
        self_loops: add ``I`` before normalising.
        against_edges: walk the reversed edges (``P = A`` instead of ``A^T``).
        scale: multiply every weight (e.g. ``-1`` for Chebyshev's rescaled Laplacian).
        layout: propagation backend.

    Shapes:
        edge_index: [2, E], edge_weight: [E] -> operator on [..., N, F]
    """

    def build(ei: Tensor, ew: Tensor | None) -> GraphOperator:
        e, w = normalize(reverse(ei) if against_edges else ei, ew, num_nodes, kind, self_loops)
        return GraphOperator(e, w * scale if scale != 1.0 else w, num_nodes, layout)

    name = f"{kind}|{self_loops}|{against_edges}|{scale}|{layout}|{num_nodes}"
    return cached_operator(module, name, edge_index, edge_weight, build)
