"""Multi-head self-attention over the nodes of a graph signal."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from stgraph.nn.attention import record
from stgraph.nn.attention.mechanisms import MultiHeadAttention
from stgraph.nn.ops.propagate import cached_operator


def attention_edges(edge_index: Tensor, num_nodes: int) -> Tensor:
    """The pairs a masked spatial attention scores: every edge ``j -> i`` and every self
    pair ``i -> i``, each once, sorted by target.

    Shapes:
        edge_index: [2, E] -> [2, E'] (``E' <= E + N``; row 0 source, row 1 target)
    """
    loops = torch.arange(num_nodes, device=edge_index.device)
    src = torch.cat([edge_index[0].long(), loops])
    dst = torch.cat([edge_index[1].long(), loops])
    pair = torch.unique(dst * num_nodes + src)  # sorted: by target, then source
    return torch.stack([pair % num_nodes, pair // num_nodes])


def pair_mask(edges: Tensor, num_nodes: int) -> Tensor:
    """The dense form of :func:`attention_edges`: ``mask[i, j]`` is true when node ``i``
    attends to ``j`` (the pair ``j -> i``).

    Shapes:
        edges: [2, E'] -> [N, N] (bool)
    """
    mask = torch.zeros(num_nodes, num_nodes, dtype=torch.bool, device=edges.device)
    mask[edges[1], edges[0]] = True
    return mask


def _pair_dot(a: Tensor, b: Tensor, i: Tensor, j: Tensor) -> Tensor:
    """``out[m, e, h] = <a[m, i_e, h], b[m, j_e, h]>``; transient gathers only."""
    return (a.index_select(1, i) * b.index_select(1, j)).sum(-1)


def _pair_sum(w: Tensor, b: Tensor, j: Tensor, i: Tensor, n: int) -> Tensor:
    """``out[m, t, h] = sum_{e: i_e = t} w[m, e, h] b[m, j_e, h]``."""
    out = b.new_zeros(b.shape[0], n, *b.shape[2:])
    return out.index_add_(1, i, w.unsqueeze(-1) * b.index_select(1, j))


class _PairDot(torch.autograd.Function):
    """:func:`_pair_dot` whose backward re-gathers instead of keeping ``[M, E, h, d]``
    copies (the sampled dense-dense product, SDDMM, of graph-attention kernels)."""

    @staticmethod
    def forward(ctx: Any, a: Tensor, b: Tensor, i: Tensor, j: Tensor) -> Tensor:
        ctx.save_for_backward(a, b, i, j)
        return _pair_dot(a, b, i, j)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, ...]:
        a, b, i, j = ctx.saved_tensors
        return _pair_sum(g, b, j, i, a.shape[1]), _pair_sum(g, a, i, j, b.shape[1]), None, None


class _PairSum(torch.autograd.Function):
    """:func:`_pair_sum` whose backward re-gathers (the sparse-dense product, SpMM)."""

    @staticmethod
    def forward(ctx: Any, w: Tensor, b: Tensor, j: Tensor, i: Tensor, n: int) -> Tensor:
        ctx.save_for_backward(w, b, j, i)
        return _pair_sum(w, b, j, i, n)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, ...]:
        w, b, j, i = ctx.saved_tensors
        return _pair_dot(g, b, i, j), _pair_sum(w, g, i, j, b.shape[1]), None, None, None


def edge_attention(
    q: Tensor, k: Tensor, v: Tensor, edges: Tensor, heads: int, dropout: float = 0.0
) -> Tensor:
    r"""Multi-head scaled dot-product attention over the nodes, restricted to graph pairs and
    computed per pair (Veličković et al., ICLR 2018, eq. 3 with dot-product scores as in
    Vaswani et al., NeurIPS 2017, eq. 1):

    .. math::
        e_{ij} = \frac{q_i^\top k_j}{\sqrt{d_k}}, \quad
        \alpha_{ij} = \frac{\exp e_{ij}}{\sum_{l: (l, i) \in E'} \exp e_{il}}, \quad
        o_i = \sum_{j: (j, i) \in E'} \alpha_{ij} v_j

    per head, over the pairs ``E'`` of :func:`attention_edges`. It equals masked dense
    attention; autograd keeps ``O(E' heads)`` numbers per snapshot (the scores and weights;
    the backward gathers the features again) instead of ``O(heads N^2)``: the cheaper form
    on sparse graphs.

    Args:
        q, k, v: projected queries, keys and values (feature axis split into ``heads``).
        edges: [2, E'] source / target pairs; every target needs at least one pair.
        heads: number of heads.
        dropout: dropout on the attention weights (pass ``0`` in eval mode).

    Shapes:
        q, k: [..., N, F]; v: [..., N, Fv] -> [..., N, Fv]
    """
    *lead, n, f = q.shape
    src, dst = edges[0], edges[1]
    qh = q.reshape(-1, n, heads, f // heads) / math.sqrt(f // heads)
    kh = k.reshape(-1, n, heads, f // heads)
    vh = v.reshape(-1, n, heads, v.shape[-1] // heads)
    scores = _PairDot.apply(qh, kh, dst, src)  # [M, E', heads]
    at = dst.view(1, -1, 1).expand_as(scores)
    top = scores.new_full(qh.shape[:3], -math.inf).scatter_reduce(1, at, scores.detach(), "amax")
    ex = (scores - top.gather(1, at)).exp()  # softmax is shift-invariant: no grad via the max
    alpha = ex / ex.new_zeros(qh.shape[:3]).scatter_add(1, at, ex).gather(1, at)
    alpha = F.dropout(alpha, dropout) if dropout > 0 else alpha
    out = _PairSum.apply(alpha, vh, src, dst, n)
    return out.reshape(*lead, n, v.shape[-1])


class SpatialAttention(nn.Module):
    r"""Spatial multi-head self-attention: at every time step each node attends over the nodes
    (Vaswani et al., NeurIPS 2017, eq. 1 along the node axis, as in GMAN's spatial attention,
    Zheng et al., AAAI 2020, eq. 5; seed article sec. 4.1).

    .. math::
        H = \mathrm{MHA}(X, X, X), \qquad
        \alpha_{ij} = 0 \text{ unless } j \to i \in E \text{ or } j = i \text{ (masked)}

    Masked by the adjacency it is a multi-head graph attention; unmasked it learns a fully
    connected spatial dependency (then ``edge_index`` may be ``None``). Unmasked, cost and
    memory grow as ``N^2`` per time step. Masked, a sparse graph (``E' d_k < N^2``, with
    ``E'`` the edges plus self pairs) is attended pair by pair (:func:`edge_attention`,
    memory ``O(E' d)``), a dense one through the masked ``N x N`` scores; both compute the
    same numbers (and weight recording, :func:`~stgraph.nn.attention.record_attention`,
    always takes the dense form).

    Args:
        in_channels: input feature size.
        out_channels: output size (divisible by ``heads``).
        heads: attention heads.
        dropout: attention dropout.
        masked: restrict attention to in-neighbours and the node itself.

    Shapes:
        x: [..., N, in_channels]; edge_index: [2, E] or ``None`` (unmasked)
        output: [..., N, out_channels]
    """

    pairwise = True  # take the pair path on sparse graphs (False: always the dense mask)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        heads: int = 4,
        dropout: float = 0.0,
        masked: bool = True,
    ) -> None:
        super().__init__()
        self.masked = masked
        self.attn = MultiHeadAttention(
            out_channels, heads, dropout, kv_dim=in_channels, q_dim=in_channels, axis=-2
        )

    def reset_parameters(self) -> None:
        """Re-initialise the projections."""
        self.attn.reset_parameters()

    def forward(
        self, x: Tensor, edge_index: Tensor | None = None, edge_weight: Tensor | None = None
    ) -> Tensor:
        mask = None
        if self.masked:
            if edge_index is None:
                raise ValueError("a masked SpatialAttention needs edge_index")
            n, a = x.shape[-2], self.attn
            edges = cached_operator(
                self, f"edges|{n}", edge_index, None, lambda ei, _: attention_edges(ei, n)
            )
            sparse = edges.shape[1] * (a.dim // a.heads) < n * n
            if sparse and self.pairwise and not record.ACTIVE:
                drop = a.dropout if self.training else 0.0
                pairs: Tensor = a.out(edge_attention(a.q(x), a.k(x), a.v(x), edges, a.heads, drop))
                return pairs
            mask = cached_operator(
                self, f"mask|{n}", edge_index, None, lambda ei, _: pair_mask(edges, n)
            )
        out: Tensor = self.attn(x, attn_mask=mask)
        return out

    def extra_repr(self) -> str:
        return f"masked={self.masked}"
