r"""Attention along any axis of a tensor: scaled dot-product, multi-head, additive (Bahdanau)
and interactive (cross) attention, plus :class:`TemporalAttention` over the time axis.

Every module here attends along one axis ``axis`` (``-2`` for plain ``[..., L, F]``
sequences, ``1`` for the time axis of ``[B, T, N, F]``, ``-2`` for the nodes of
``[B, T, N, F]``); all other non-feature axes are independent attention problems. Keys and
values broadcast against the queries on those axes (a ``[B, T, 1, C]`` covariate sequence
serves every node). The time axis is addressed through strides
(:func:`stgraph.nn.ops.fold.attention_heads`), never transposed into place.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stgraph.nn.attention import record
from stgraph.nn.attention.masking import masked_softmax
from stgraph.nn.ops.fold import attention_heads, fold_axis, merge_heads
from stgraph.nn.ops.init import glorot_


def _fold_pair(query: Tensor, key: Tensor, dim: int) -> tuple[Tensor, Tensor]:
    """Broadcast ``key`` to ``query`` on every axis but ``dim`` and the features, then fold
    both with :func:`~stgraph.nn.ops.fold.fold_axis`."""
    d = dim % query.dim()
    shape = list(query.shape)
    shape[d], shape[-1] = key.shape[d], key.shape[-1]
    return fold_axis(query, d), fold_axis(key.expand(shape), d)


def _unfold(out: Tensor, query: Tensor) -> Tensor:
    return out.reshape(*query.shape[:-1], out.shape[-1])


def scaled_dot_product(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    dim: int = -2,
    heads: int = 1,
    attn_mask: Tensor | None = None,
    causal: bool = False,
    dropout: float = 0.0,
) -> Tensor:
    r"""Scaled dot-product attention along axis ``dim`` (Vaswani et al., NeurIPS 2017, eq. 1;
    seed article sec. 2.2), split into ``heads`` heads.

    .. math::
        \mathrm{Attention}(Q, K, V) = \mathrm{softmax}\Big(\frac{Q K^\top}{\sqrt{d_k}}\Big) V

    Args:
        query, key, value: the three inputs (no projections here).
        dim: the attended axis.
        heads: split the features into this many independent heads.
        attn_mask: bool ``[Lq, Lk]`` (``True`` = may attend) or an additive float mask.
        causal: query ``i`` attends to keys ``<= i`` only.
        dropout: dropout on the attention weights.

    Shapes:
        query: [..., Lq, ..., F]; key: [..., Lk, ..., F]; value: [..., Lk, ..., Fv]
        (key/value broadcast against query outside ``dim``)
        output: [..., Lq, ..., Fv]
    """
    q, k = _fold_pair(query, key, dim)
    _, v = _fold_pair(query, value, dim)
    m = q.shape[2]
    qh, kh = attention_heads(q, heads), attention_heads(k, heads)
    if record.ACTIVE:  # opt-in weight capture (record_attention); off, it costs this test
        kind = record.axis_kind(query.dim(), dim)
        record.capture_scaled_dot_product(qh, kh, m, attn_mask, causal, kind)
    out = F.scaled_dot_product_attention(
        qh,
        kh,
        attention_heads(v, heads),
        attn_mask=attn_mask,
        dropout_p=dropout,
        is_causal=causal,
    )
    return _unfold(merge_heads(out, m), query)


class MultiHeadAttention(nn.Module):
    r"""Multi-head scaled dot-product attention (Vaswani et al., NeurIPS 2017, eq. 1 and
    sec. 3.2.2; seed article secs. 2.2, 4.1-4.3).

    .. math::
        \mathrm{head}_i = \mathrm{Attention}(Q W_i^Q, K W_i^K, V W_i^V), \qquad
        \mathrm{MHA}(Q, K, V) = [\mathrm{head}_1; \dots; \mathrm{head}_h] W^O

    Self-attention is ``attn(x)``; cross (interactive) attention is ``attn(x, memory)``.

    Args:
        dim: model size ``d`` (projected size and output size); divisible by ``heads``.
        heads: number of heads ``h``.
        dropout: dropout on the attention weights (training only).
        kv_dim: size of key/value inputs (default ``dim``).
        q_dim: size of query inputs (default ``dim``).
        axis: the attended axis (``-2`` for ``[..., L, F]``; ``1`` for time in
            ``[B, T, N, F]``).

    Shapes:
        query: [..., Lq, ..., q_dim]; key/value: [..., Lk, ..., kv_dim] (broadcast)
        attn_mask: bool [Lq, Lk] (``True`` = may attend) or additive float, optional
        output: [..., Lq, ..., dim]
    """

    def __init__(
        self,
        dim: int,
        heads: int = 4,
        dropout: float = 0.0,
        kv_dim: int | None = None,
        q_dim: int | None = None,
        axis: int = -2,
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim={dim} must be divisible by heads={heads}")
        kv, qd = kv_dim or dim, q_dim or dim
        self.dim, self.heads, self.dropout, self.kv_dim, self.q_dim = dim, heads, dropout, kv, qd
        self.axis = axis
        self.q = nn.Linear(qd, dim)
        self.k = nn.Linear(kv, dim)
        self.v = nn.Linear(kv, dim)
        self.out = nn.Linear(dim, dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot weights, zero biases."""
        glorot_(self.q, self.k, self.v, self.out)

    def forward(
        self,
        query: Tensor,
        key: Tensor | None = None,
        value: Tensor | None = None,
        attn_mask: Tensor | None = None,
        causal: bool = False,
    ) -> Tensor:
        key = query if key is None else key
        value = key if value is None else value
        out = scaled_dot_product(
            self.q(query),
            self.k(key),
            self.v(value),
            dim=self.axis,
            heads=self.heads,
            attn_mask=attn_mask,
            causal=causal,
            dropout=self.dropout if self.training else 0.0,
        )
        return self.out(out)

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, heads={self.heads}, dropout={self.dropout}, kv_dim={self.kv_dim}, "
            f"q_dim={self.q_dim}, axis={self.axis}"
        )


class TemporalAttention(nn.Module):
    """:class:`MultiHeadAttention` along the time axis of ``[B, T, N, F]`` tensors, every node
    attending over its own sequence (self-attention), or over a memory sequence (cross
    attention: encoder-decoder, covariates vs target; seed article sec. 4.2).

    Args:
        dim: feature size ``F``.
        heads: number of heads.
        dropout: attention dropout.
        causal: each step attends only to itself and earlier steps (self-attention only).
        kv_dim: feature size of the memory (default ``dim``).

    Shapes:
        x: [B, Tq, N, dim]; memory: [B, Tk, N or 1, kv_dim] (cross-attention), optional
        output: [B, Tq, N, dim]
    """

    def __init__(
        self,
        dim: int,
        heads: int = 4,
        dropout: float = 0.0,
        causal: bool = False,
        kv_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(dim, heads, dropout, kv_dim=kv_dim, axis=1)
        self.causal = causal

    def reset_parameters(self) -> None:
        """Re-initialise the projections."""
        self.attn.reset_parameters()

    def forward(self, x: Tensor, memory: Tensor | None = None) -> Tensor:
        out: Tensor = self.attn(x, memory, causal=self.causal and memory is None)
        return out

    def extra_repr(self) -> str:
        return f"causal={self.causal}"


class AdditiveAttention(nn.Module):
    r"""Additive attention (Bahdanau et al., ICLR 2015, sec. 3.1 and appendix A.1.2).

    .. math::
        e_{ij} = v^\top \tanh(W q_i + U k_j), \qquad
        \alpha_{ij} = \mathrm{softmax}_j(e_{ij}), \qquad o_i = \sum_j \alpha_{ij} v_j

    The seed article (sec. 2.2) lists additive attention with a garbled formula
    (:math:`\mathrm{softmax}(W^Q Q + W^K K + V) V`); this is the published form. Values
    default to the keys (Bahdanau's annotations). Memory grows as ``Lq * Lk * hidden`` per
    sequence: use it for short windows.

    Args:
        query_dim: query feature size.
        key_dim: key feature size.
        hidden: size of the scoring MLP.
        axis: the attended axis.

    Shapes:
        query: [..., Lq, ..., query_dim]; key: [..., Lk, ..., key_dim];
        value: [..., Lk, ..., Fv] (default: key) -> output [..., Lq, ..., Fv]
    """

    def __init__(self, query_dim: int, key_dim: int, hidden: int = 32, axis: int = -2) -> None:
        super().__init__()
        self.query_dim, self.key_dim, self.hidden, self.axis = query_dim, key_dim, hidden, axis
        self.w = nn.Linear(query_dim, hidden, bias=False)
        self.u = nn.Linear(key_dim, hidden)
        self.v = nn.Linear(hidden, 1, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot weights, zero bias."""
        glorot_(self.w, self.u, self.v)

    def forward(
        self,
        query: Tensor,
        key: Tensor | None = None,
        value: Tensor | None = None,
        attn_mask: Tensor | None = None,
        causal: bool = False,
    ) -> Tensor:
        key = query if key is None else key
        value = key if value is None else value
        q, k = _fold_pair(self.w(query), self.u(key), self.axis)
        _, v = _fold_pair(query, value, self.axis)
        scores = self.v(torch.tanh(q[:, :, None] + k[:, None])).squeeze(-1)  # [B', Lq, Lk, M]
        alpha = masked_softmax(scores.permute(0, 3, 1, 2), attn_mask, causal)  # [B', M, Lq, Lk]
        if record.ACTIVE:  # opt-in weight capture (record_attention)
            record.capture_weights(alpha.unsqueeze(2), record.axis_kind(query.dim(), self.axis))
        return _unfold(torch.einsum("bmqk,bkmf->bqmf", alpha, v), query)

    def extra_repr(self) -> str:
        return f"{self.query_dim}, {self.key_dim}, hidden={self.hidden}, axis={self.axis}"


class InteractiveAttention(nn.Module):
    r"""Interactive (cross) attention between two sequences (seed article secs. 3.4 and 4.2;
    Luong et al., EMNLP 2015, "general" score).

    .. math::
        \mathrm{Attention}(X, Y) = \mathrm{softmax}\Big(\frac{X W_X Y^\top}{\sqrt{d_Y}}\Big) Y

    Every element of ``X`` reads a weighted average of ``Y`` with a learned bilinear score.

    Args:
        x_dim: feature size of ``X`` (queries).
        y_dim: feature size of ``Y`` (keys and values; output size).
        axis: the attended axis.

    Shapes:
        x: [..., Lx, ..., x_dim]; y: [..., Ly, ..., y_dim] (broadcast)
        output: [..., Lx, ..., y_dim]
    """

    def __init__(self, x_dim: int, y_dim: int, axis: int = -2) -> None:
        super().__init__()
        self.x_dim, self.y_dim, self.axis = x_dim, y_dim, axis
        self.w = nn.Linear(x_dim, y_dim, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot weight."""
        glorot_(self.w)

    def forward(
        self, x: Tensor, y: Tensor, attn_mask: Tensor | None = None, causal: bool = False
    ) -> Tensor:
        return scaled_dot_product(
            self.w(x), y, y, dim=self.axis, attn_mask=attn_mask, causal=causal
        )

    def extra_repr(self) -> str:
        return f"{self.x_dim}, {self.y_dim}, axis={self.axis}, scale=1/sqrt({self.y_dim})"
