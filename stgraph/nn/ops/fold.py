r"""The one place where ``[B, T, N, F]`` tensors are folded for layers that need another layout.

Every stgraph layer takes the house layout ``[B, T, N, F]`` (batch, time, nodes, features).
Kernels want other shapes: a recurrent network wants every node's sequence as a batch row, a
sparse matrix product wants the node axis first, attention wants ``[batch, heads, length,
head_dim]``. These helpers do those foldings, so no layer reshapes on its own, and they use
views (no copy) wherever the memory layout allows it:

* :func:`fold_axis` / :func:`attention_heads` are pure views for contiguous inputs: the
  sequence axis of attention is addressed through strides, never transposed into place.
* :func:`node_sequences` / :func:`nodes_first` copy once (the kernels they feed need it).
"""

from __future__ import annotations

import math

from torch import Tensor


def fold_axis(x: Tensor, dim: int) -> Tensor:
    """View ``x`` as ``[before, L, after, F]`` around the axis ``dim`` of length ``L``.

    Args:
        x: any tensor with at least two dims; the last one is features.
        dim: the axis that becomes dim 1 (not the feature axis).

    Shapes:
        x: [*pre, L, *post, F] -> [prod(pre), L, prod(post), F] (a view when x is contiguous)
    """
    d = dim % x.dim()
    if d == x.dim() - 1:
        raise ValueError("the folded axis cannot be the feature axis (-1)")
    pre, post = x.shape[:d], x.shape[d + 1 : -1]
    return x.reshape(math.prod(pre), x.shape[d], math.prod(post), x.shape[-1])


def attention_heads(x: Tensor, heads: int) -> Tensor:
    """Split features into heads and expose the ``[batch, heads, length, head_dim]`` layout
    that :func:`torch.nn.functional.scaled_dot_product_attention` reads, as a strided view.

    The ``after`` positions of :func:`fold_axis` (e.g. the nodes of a temporal attention) are
    folded with the heads, so ``[B, T, N, F]`` attends over ``T`` with ``N * heads``
    independent heads and no transpose copy.

    Shapes:
        x: [B', L, M, F] -> [B', M * heads, L, F / heads]
    """
    b, length, m, f = x.shape
    return x.reshape(b, length, m * heads, f // heads).transpose(1, 2)


def merge_heads(x: Tensor, m: int) -> Tensor:
    """Inverse of :func:`attention_heads`.

    Shapes:
        x: [B', M * heads, L, D] -> [B', L, M, heads * D]
    """
    b, mh, length, d = x.shape
    return x.transpose(1, 2).reshape(b, length, m, (mh // m) * d)


def node_sequences(x: Tensor) -> Tensor:
    """Every node's sequence as one batch row (for per-node recurrent kernels; one copy).

    Shapes:
        x: [B, T, N, F] -> [B * N, T, F]
    """
    b, t, n, f = x.shape
    return x.transpose(1, 2).reshape(b * n, t, f)


def from_node_sequences(y: Tensor, batch: int) -> Tensor:
    """Inverse of :func:`node_sequences`.

    Shapes:
        y: [B * N, T, F] -> [B, T, N, F]
    """
    bn, t, f = y.shape
    return y.reshape(batch, bn // batch, t, f).transpose(1, 2)


def nodes_first(x: Tensor) -> Tensor:
    """Node axis first, everything else flattened into columns (for ``P @ X`` with a sparse
    ``P``; one copy).

    Shapes:
        x: [..., N, F] -> [N, prod(...) * F]
    """
    n, f = x.shape[-2], x.shape[-1]
    return x.reshape(-1, n, f).transpose(0, 1).reshape(n, -1)


def nodes_last(y: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Inverse of :func:`nodes_first` for an input of shape ``shape``.

    Shapes:
        y: [N, prod(...) * F] -> shape = [..., N, F]
    """
    n, f = shape[-2], shape[-1]
    return y.reshape(n, -1, f).transpose(0, 1).reshape(shape)
