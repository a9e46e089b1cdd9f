r"""Pure functions on PyG-style edge lists: self-loops, normalisations, matrix forms.

Convention used everywhere in stgraph: ``edge_index[0]`` is the *source* node and
``edge_index[1]`` the *target*; a message travels source -> target and is aggregated at the
target. The adjacency matrix ``A`` has ``A[i, j] = w`` for an edge ``i -> j`` and the
propagation matrix applied to node features is its transpose, ``out = A^T x``
(every node sums over its in-neighbours).
"""

from __future__ import annotations

import warnings
from typing import Literal

import torch
from torch import Tensor

Normalization = Literal["none", "sym", "rw", "rw_in"]


def _check(edge_index: Tensor, edge_weight: Tensor | None, num_nodes: int) -> Tensor:
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"edge_index must have shape [2, E], got {tuple(edge_index.shape)}")
    if edge_weight is None:
        return torch.ones(edge_index.size(1), dtype=torch.float32, device=edge_index.device)
    if edge_weight.shape != (edge_index.size(1),):
        raise ValueError(
            f"edge_weight must have shape [E]={edge_index.size(1)}, got {tuple(edge_weight.shape)}"
        )
    return edge_weight


def remove_self_loops(
    edge_index: Tensor, edge_weight: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Drop every edge ``i -> i``.

    Shapes:
        edge_index: [2, E], edge_weight: [E] -> ([2, E'], [E'])
    """
    w = _check(edge_index, edge_weight, 0)
    keep = edge_index[0] != edge_index[1]
    return edge_index[:, keep], w[keep]


def add_self_loops(
    edge_index: Tensor, edge_weight: Tensor | None, num_nodes: int, fill: float = 1.0
) -> tuple[Tensor, Tensor]:
    """Replace existing self-loops by a loop of weight ``fill`` on every node (``A + fill*I``
    on the off-diagonal part).

    Shapes:
        edge_index: [2, E], edge_weight: [E] -> ([2, E' + N], [E' + N])
    """
    ei, w = remove_self_loops(edge_index, edge_weight)
    loop = torch.arange(num_nodes, device=ei.device)
    ei = torch.cat([ei, torch.stack([loop, loop])], dim=1)
    w = torch.cat([w, torch.full((num_nodes,), fill, dtype=w.dtype, device=w.device)])
    return ei, w


def degree(index: Tensor, weight: Tensor, num_nodes: int) -> Tensor:
    """Weighted degree: ``deg[v] = sum of weight[e] over e with index[e] == v``.

    Shapes:
        index: [E], weight: [E] -> [N]
    """
    out = torch.zeros(num_nodes, dtype=weight.dtype, device=weight.device)
    return out.index_add_(0, index, weight)


def _safe_pow(x: Tensor, p: float) -> Tensor:
    y = x.pow(p)
    return torch.where(x > 0, y, torch.zeros_like(y))


def normalize(
    edge_index: Tensor,
    edge_weight: Tensor | None,
    num_nodes: int,
    kind: Normalization = "sym",
    self_loops: bool = False,
) -> tuple[Tensor, Tensor]:
    r"""Normalise edge weights.

    * ``"sym"``: :math:`\tilde w_{ij} = w_{ij} / \sqrt{d_i d_j}` with the in-degree
      (target) ``d`` — the GCN normalisation :math:`D^{-1/2} A D^{-1/2}` (Kipf & Welling,
      ICLR 2017, eq. 2) when ``A`` is symmetric.
    * ``"rw"``: :math:`\tilde w_{ij} = w_{ij} / d^{out}_i`, the random-walk matrix
      :math:`D_O^{-1} A` of DCRNN's forward diffusion (Li et al., ICLR 2018, eq. 2).
    * ``"rw_in"``: :math:`\tilde w_{ij} = w_{ij} / d^{in}_j`, a row-stochastic propagation
      matrix: every node averages its in-neighbours (the mean aggregator).
    * ``"none"``: unchanged.

    Zero-degree nodes get weight 0 instead of dividing by zero.

    Args:
        edge_index: source/target indices.
        edge_weight: weights, ``None`` = all ones.
        num_nodes: number of nodes ``N``.
        kind: the normalisation.
        self_loops: add ``I`` (weight 1) before normalising (``\hat A = A + I``).

    Shapes:
        edge_index: [2, E], edge_weight: [E] -> ([2, E'], [E'])
    """
    w = _check(edge_index, edge_weight, num_nodes)
    ei = edge_index
    if self_loops:
        ei, w = add_self_loops(ei, w, num_nodes)
    src, dst = ei[0], ei[1]
    if kind == "none":
        return ei, w
    if kind == "sym":
        d = _safe_pow(degree(dst, w, num_nodes), -0.5)
        return ei, d[src] * w * d[dst]
    if kind == "rw":
        return ei, w * _safe_pow(degree(src, w, num_nodes), -1.0)[src]
    if kind == "rw_in":
        return ei, w * _safe_pow(degree(dst, w, num_nodes), -1.0)[dst]
    raise ValueError(f"unknown normalisation {kind!r}; expected one of none, sym, rw, rw_in")


def reverse(edge_index: Tensor) -> Tensor:
    """Flip every edge ``i -> j`` into ``j -> i`` (the transpose ``A^T``).

    Shapes:
        edge_index: [2, E] -> [2, E]
    """
    return edge_index.flip(0)


def propagation_dense(edge_index: Tensor, edge_weight: Tensor | None, num_nodes: int) -> Tensor:
    """Dense propagation matrix ``P = A^T`` (``P[target, source] = w``); duplicates add up.

    Shapes:
        edge_index: [2, E], edge_weight: [E] -> [N, N]
    """
    w = _check(edge_index, edge_weight, num_nodes)
    p = torch.zeros(num_nodes, num_nodes, dtype=w.dtype, device=w.device)
    return p.index_put_((edge_index[1], edge_index[0]), w, accumulate=True)


def propagation_csr(edge_index: Tensor, edge_weight: Tensor | None, num_nodes: int) -> Tensor:
    """Sparse CSR propagation matrix ``P = A^T`` (rows = targets); duplicates add up.

    Shapes:
        edge_index: [2, E], edge_weight: [E] -> sparse CSR [N, N]
    """
    w = _check(edge_index, edge_weight, num_nodes)
    coo = torch.sparse_coo_tensor(
        torch.stack([edge_index[1], edge_index[0]]),
        w,
        (num_nodes, num_nodes),
        check_invariants=True,
    ).coalesce()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return coo.to_sparse_csr()
