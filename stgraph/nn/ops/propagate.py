r"""Fast fixed-graph propagation: ``P x`` for ``x`` of shape ``[..., N, F]``.

A :class:`GraphOperator` turns a (normalised) edge list into a dense matrix or a
``torch.sparse`` CSR matrix once and applies it to any number of leading batch/time dims:
the dense product broadcasts over them (no copy), the CSR product folds them into columns
(:func:`stgraph.nn.ops.fold.nodes_first`). :func:`cached_operator` memoises an operator on a
module, keyed by the identity and version of the edge tensors, so a model that sees the same
fixed graph every step builds it once.

The ``"auto"`` layout picks the cheaper product for every call from a cost model measured
on CPU (:func:`choose_layout`; ``tools/bench/layers.py --auto`` re-measures it): a dense
product costs about ``N^2`` per column whatever the sparsity, a CSR product a multiple of
``nnz`` plus the layout copies of :func:`~stgraph.nn.ops.fold.nodes_first`, which the dense
product avoids and which cost more once a product outgrows the cache.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import torch
from torch import Tensor, nn

from stgraph.graph.normalization import (
    Normalization,
    normalize,
    propagation_csr,
    propagation_dense,
    reverse,
)
from stgraph.nn.ops.fold import nodes_first

Layout = Literal["auto", "dense", "sparse"]
Op = TypeVar("Op")
SMALL_COLUMNS = 8192
"""Products with at most this many columns (``prod(leading dims) * F``) use the
small-product cost model of :func:`choose_layout`."""
SPARSE_CHUNK_COLUMNS = 4096
"""Columns per CSR product: the node-first copies of a chunk stay in cache (measured: at
N = 207 one 49,152-column product is 2x slower than twelve 4,096-column ones)."""


def choose_layout(
    num_nodes: int, nnz: int, columns: int | None = None
) -> Literal["dense", "sparse"]:
    r"""The ``"auto"`` rule, from a measured sweep (``tools/bench/layers.py --auto``; N from
    64 to 400, mean degree 5 to 90, 4,096 and 49,152 columns, forward + backward, 2-core
    AVX-512 CPU).

    A dense product costs :math:`N^2` per column; a CSR product costs
    :math:`\alpha\,\mathrm{nnz} + \beta N` in the same units (the sparse kernel per non-zero,
    plus the node-first layout copies per node). :math:`\alpha = 4` either way; while a
    product's working set stays in cache (``columns <= 8192``) :math:`\beta = 25`, for bigger
    products the copies cost more, :math:`\beta = 80`. Dense wins when :math:`N^2` is the
    smaller. Examples: METR-LA-like (N = 207, 8 neighbours) is CSR both for a
    ``[64, 207, 64]`` RNN step and for a ``[64, 12, 207, 64]`` block (about 2x faster than
    dense); a 100-node graph with 20 neighbours is dense; a 2,000-node kNN graph is CSR.

    Args:
        num_nodes: ``N``.
        nnz: non-zeros of the propagation matrix.
        columns: columns of the product (``None``: a large product).
    """
    small = columns is not None and columns <= SMALL_COLUMNS
    alpha, beta = 4.0, (25.0 if small else 80.0)
    return "dense" if num_nodes**2 <= alpha * nnz + beta * num_nodes else "sparse"


def _sparse_product(matrix: Tensor, x: Tensor, add: Tensor | None, alpha: float) -> Tensor:
    """``alpha * matrix @ x + add`` over the node axis for a CSR ``matrix``, folded over the
    leading dims in chunks of about :data:`SPARSE_CHUNK_COLUMNS` columns.

    Each chunk's product is written straight into its slice of the output, with the scaling,
    the addition and the transpose back to ``[..., N, F]`` fused into that one write (no
    concatenation, no separate scaling pass). When autograd records the product (learnable
    weights), the write is a differentiable slice assignment instead of an ``out=`` kernel.

    Shapes:
        matrix: sparse CSR [N, N]; x, add: [..., N, F] -> [..., N, F]
    """
    n, f = x.shape[-2], x.shape[-1]
    x3 = x.reshape(-1, n, f)
    add3 = None if add is None else add.reshape(x3.shape)
    out = torch.empty(x3.shape, dtype=x.dtype, device=x.device)
    rows = max(1, SPARSE_CHUNK_COLUMNS // max(f, 1))
    recorded = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (matrix, x, add)
    )
    for start in range(0, x3.shape[0], rows):
        sl = slice(start, start + rows)
        chunk = x3[sl]
        y = torch.sparse.mm(matrix, nodes_first(chunk)).view(n, chunk.shape[0], f).transpose(0, 1)
        if add3 is None and alpha == 1.0:
            out[sl].copy_(y)
        elif recorded:  # out= kernels are not differentiable
            out[sl] = y * alpha if add3 is None else torch.add(add3[sl], y, alpha=alpha)
        elif add3 is not None:
            torch.add(add3[sl], y, alpha=alpha, out=out[sl])
        else:
            torch.mul(y, alpha, out=out[sl])
    return out.reshape(x.shape)


DENSE_GEMM_NODES = 256
"""From this many nodes a dense product is one GEMM on the node-major ``[N, B' F]`` matrix
instead of a batched GEMM with the matrix broadcast over the ``B'`` folded leading dims: the
batched form reads the ``N x N`` matrix once per slice (memory-bound once it outgrows the
cache), and a learned matrix's gradient is then a ``[B', N, N]`` tensor summed over ``B'``.
Measured forward + backward with a learned matrix, F = 32, 1 thread: N = 2,000, B' = 96:
3.12 s -> 1.12 s; N = 300: 2x; N = 207: 0.085 s (batched) vs 0.094 s."""


def _dense_product(matrix: Tensor, x: Tensor, add: Tensor | None, alpha: float) -> Tensor:
    """``alpha * matrix @ x + add``: below :data:`DENSE_GEMM_NODES` one batched GEMM over
    the folded leading dims with the addition fused (``baddbmm``), from there one GEMM on
    the node-major input (one copy in, the addition fused into the copy out).

    Shapes:
        matrix: [N, N]; x, add: [..., N, F] -> [..., N, F]
    """
    n, f = x.shape[-2], x.shape[-1]
    x3 = x.reshape(-1, n, f)
    if n >= DENSE_GEMM_NODES and x3.shape[0] > 1:
        y = (matrix @ nodes_first(x3)).view(n, x3.shape[0], f).transpose(0, 1)
        if add is not None:
            return torch.add(add.reshape(x3.shape), y, alpha=alpha).reshape(x.shape)
        return (y * alpha if alpha != 1.0 else y.contiguous()).reshape(x.shape)
    p3 = matrix.expand(x3.shape[0], n, n)
    if add is None:
        out = torch.bmm(p3, x3)
        out = out if alpha == 1.0 else out * alpha
    else:
        out = torch.baddbmm(add.reshape(x3.shape), p3, x3, alpha=alpha)
    return out.reshape(x.shape)


class _FixedPropagation(torch.autograd.Function):
    """``alpha * P x + add`` with a constant ``P``: the backward pass is ``alpha * P^T g``
    with a stored transpose (a CSR transpose would otherwise be rebuilt every step, and a
    broadcast ``torch.matmul`` with a stride-0 gradient, as ``out.sum().backward()`` sends,
    is pathologically slow)."""

    @staticmethod
    def forward(
        ctx: Any, x: Tensor, add: Tensor | None, op: GraphOperator, alpha: float, layout: str
    ) -> Tensor:
        ctx.op, ctx.alpha, ctx.has_add, ctx.layout = op, alpha, add is not None, layout
        return op.apply(op.matrix_for(layout, x), x, add, alpha, layout)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor | None, None, None, None]:
        op: GraphOperator = ctx.op
        g = grad.contiguous()
        gx = op.apply(op.transposed(ctx.layout, g), g, None, ctx.alpha, ctx.layout)
        return gx, grad if ctx.has_add else None, None, None, None


class GraphOperator:
    """Linear operator ``x -> alpha * P x (+ add)`` over the node axis, with
    ``P[target, source] = w``.

    With ``layout="auto"`` every call picks the dense or the CSR product for the size of its
    input (:func:`choose_layout`); each matrix (and its transpose, for the backward pass) is
    built once, on first use, per dtype and device.

    Args:
        edge_index: source/target indices.
        edge_weight: weights (already normalised as wanted); may require grad.
        num_nodes: ``N``.
        layout: ``"dense"``, ``"sparse"`` (CSR) or ``"auto"``.

    Shapes:
        edge_index: [2, E], edge_weight: [E]
        __call__: x [..., N, F], add [..., N, F] (optional, fused into the product)
        -> [..., N, F]
    """

    def __init__(
        self, edge_index: Tensor, edge_weight: Tensor, num_nodes: int, layout: Layout = "auto"
    ) -> None:
        if layout not in ("auto", "dense", "sparse"):
            raise ValueError(f"layout must be 'auto', 'dense' or 'sparse', got {layout!r}")
        self.edge_index, self.edge_weight = edge_index, edge_weight
        self.num_nodes, self.layout, self.nnz = num_nodes, layout, int(edge_index.size(1))
        self._mats: dict[tuple[str, torch.dtype, torch.device], Tensor] = {}
        self._trans: dict[tuple[str, torch.dtype, torch.device], Tensor] = {}

    @classmethod
    def from_dense(cls, matrix: Tensor) -> GraphOperator:
        """Wrap a dense ``[N, N]`` propagation matrix (e.g. a learned adjacency)."""
        ei = torch.zeros(2, 0, dtype=torch.long, device=matrix.device)
        op = cls(ei, matrix.new_zeros(0), matrix.shape[0], "dense")
        op._mats[("dense", matrix.dtype, matrix.device)] = matrix
        return op

    @property
    def requires_grad(self) -> bool:
        """Whether the weights are learnable (then the plain autograd path is used)."""
        return self.edge_weight.requires_grad or any(m.requires_grad for m in self._mats.values())

    @property
    def matrix(self) -> Tensor:
        """The matrix of a fixed ``"dense"`` / ``"sparse"`` layout (``"auto"``: the layout of a
        large product)."""
        layout = self.layout if self.layout != "auto" else choose_layout(self.num_nodes, self.nnz)
        return self.matrix_for(layout, self.edge_weight)

    def layout_for(self, x: Tensor) -> str:
        """Layout used for input ``x``."""
        if self.layout != "auto":
            return self.layout
        return choose_layout(self.num_nodes, self.nnz, x.numel() // max(self.num_nodes, 1))

    def matrix_for(self, layout: str, like: Tensor) -> Tensor:
        """``P`` in ``layout`` with the dtype and device of ``like`` (built once)."""
        key = (layout, like.dtype, like.device)
        if key not in self._mats:
            source = next(iter(self._mats.values()), None)
            if source is not None and self.edge_index.numel() == 0 and layout == "dense":
                self._mats[key] = source.to(like.device, like.dtype)
            else:
                ei, ew = (
                    self.edge_index.to(like.device),
                    self.edge_weight.to(like.device, like.dtype),
                )
                build = propagation_dense if layout == "dense" else propagation_csr
                self._mats[key] = build(ei, ew, self.num_nodes)
        return self._mats[key]

    def transposed(self, layout: str, like: Tensor) -> Tensor:
        """``P^T`` in ``layout`` (built once)."""
        key = (layout, like.dtype, like.device)
        if key not in self._trans:
            m = self.matrix_for(layout, like)
            if layout == "dense":
                self._trans[key] = m.t().contiguous()
            else:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message="Sparse CSR tensor support")
                    self._trans[key] = m.t().to_sparse_csr()
        return self._trans[key]

    @staticmethod
    def apply(matrix: Tensor, x: Tensor, add: Tensor | None, alpha: float, layout: str) -> Tensor:
        """``alpha * matrix @ x + add`` over the node axis (plain autograd)."""
        if layout == "sparse":
            return _sparse_product(matrix, x, add, alpha)
        return _dense_product(matrix, x, add, alpha)

    def __call__(self, x: Tensor, add: Tensor | None = None, alpha: float = 1.0) -> Tensor:
        n = x.shape[-2]
        if n != self.num_nodes:
            raise ValueError(f"operator has {self.num_nodes} nodes, input has {n} (dim -2)")
        if add is not None and add.shape != x.shape:
            raise ValueError(f"add must have the shape of x {tuple(x.shape)}, got {add.shape}")
        layout = self.layout_for(x)
        if self.requires_grad:
            return self.apply(self.matrix_for(layout, x), x, add, alpha, layout)
        out: Tensor = _FixedPropagation.apply(x, add, self, alpha, layout)
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
    build: Callable[[Tensor, Tensor | None], Op],
) -> Op:
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
    cache: dict[str, tuple[tuple, tuple, Any]] = module.__dict__.setdefault("_stgraph_op_cache", {})
    hit = cache.get(name)
    if hit is not None and hit[1] == key and _same(hit[0], tensors):
        found: Op = hit[2]
        return found
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
