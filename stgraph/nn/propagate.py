r"""Fast fixed-graph propagation: ``P x`` for ``x`` of shape ``[..., N, F]``.

A :class:`GraphOperator` turns a (normalised) edge list into a dense matrix or a
``torch.sparse`` CSR matrix once and applies it to any number of leading batch/time dims.
:func:`cached_operator` memoises it on a module, keyed by the identity and version of the
edge tensors, so a model that sees the same fixed graph every step builds it once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor, nn

from stgraph.graph.normalization import propagation_csr, propagation_dense

Layout = Literal["auto", "dense", "sparse"]
DENSE_MAX_NODES = 4096
DENSE_MIN_DENSITY = 0.1


class GraphOperator:
    """Linear operator ``x -> P x`` over the node axis, with ``P[target, source] = w``.

    Args:
        edge_index: source/target indices.
        edge_weight: weights (already normalised as wanted).
        num_nodes: ``N``.
        layout: ``"dense"``, ``"sparse"`` (CSR) or ``"auto"`` (dense for ``N <=`` 4096
            when at least 10 % of the entries are non-zero, otherwise CSR).

    Shapes:
        edge_index: [2, E], edge_weight: [E]
        __call__: x [..., N, F] -> [..., N, F]
    """

    def __init__(
        self, edge_index: Tensor, edge_weight: Tensor, num_nodes: int, layout: Layout = "auto"
    ) -> None:
        if layout == "auto":
            dense = (
                num_nodes <= DENSE_MAX_NODES
                and edge_index.size(1) >= DENSE_MIN_DENSITY * num_nodes**2
            )
            layout = "dense" if dense else "sparse"
        self.layout = layout
        self.num_nodes = num_nodes
        if layout == "dense":
            self.matrix = propagation_dense(edge_index, edge_weight, num_nodes)
        elif layout == "sparse":
            self.matrix = propagation_csr(edge_index, edge_weight, num_nodes)
        else:
            raise ValueError(f"layout must be 'auto', 'dense' or 'sparse', got {layout!r}")

    def __call__(self, x: Tensor) -> Tensor:
        n = x.shape[-2]
        if n != self.num_nodes:
            raise ValueError(f"operator has {self.num_nodes} nodes, input has {n} (dim -2)")
        p = self.matrix.to(x.dtype)
        if self.layout == "dense":
            return torch.matmul(p, x)
        lead = x.shape[:-2]
        f = x.shape[-1]
        flat = x.reshape(-1, n, f).transpose(0, 1).reshape(n, -1)  # [N, B*F]
        out = torch.sparse.mm(p, flat)
        return out.reshape(n, -1, f).transpose(0, 1).reshape(*lead, n, f)


def _key(*tensors: Tensor) -> tuple:
    return tuple((t.data_ptr(), t._version, tuple(t.shape), t.device, t.dtype) for t in tensors)


def cached_operator(
    module: nn.Module,
    name: str,
    edge_index: Tensor,
    edge_weight: Tensor | None,
    build: Callable[[Tensor, Tensor | None], GraphOperator],
) -> GraphOperator:
    """Return ``build(edge_index, edge_weight)``, memoised on ``module`` under ``name``.

    The cache is keyed by storage pointer, in-place version counter, shape, device and dtype
    of the edge tensors, so an in-place change or a new graph rebuilds it. Learnable weights
    (``edge_weight.requires_grad``) are never cached, so gradients still reach them.
    """
    tensors = (edge_index,) if edge_weight is None else (edge_index, edge_weight)
    if edge_weight is not None and edge_weight.requires_grad and torch.is_grad_enabled():
        return build(edge_index, edge_weight)
    key = _key(*tensors)
    cache: dict[str, tuple[tuple, GraphOperator]] = module.__dict__.setdefault(
        "_stgraph_op_cache", {}
    )
    hit = cache.get(name)
    if hit is not None and hit[0] == key:
        return hit[1]
    op = build(edge_index, edge_weight)
    cache[name] = (key, op)
    return op
