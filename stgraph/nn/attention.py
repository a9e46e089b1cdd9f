"""Multi-head scaled dot-product attention over a sequence axis, and its temporal wrapper."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class MultiHeadAttention(nn.Module):
    r"""Multi-head scaled dot-product attention (Vaswani et al., NeurIPS 2017, eq. 1 and
    sec. 3.2.2; seed article secs. 2.2 and 4.3).

    .. math::
        \mathrm{head}_i = \mathrm{softmax}\Big(\frac{Q W_i^Q (K W_i^K)^\top}{\sqrt{d_k}}\Big)
            V W_i^V,
        \qquad \mathrm{MHA}(Q, K, V) = [\mathrm{head}_1; \dots; \mathrm{head}_h] W^O

    Self-attention is ``attn(x)``; cross (interactive) attention is ``attn(x, memory)``.

    Args:
        dim: model size ``d`` (query size and output size); divisible by ``heads``.
        heads: number of heads ``h``.
        dropout: dropout on the attention weights (training only).
        kv_dim: size of key/value inputs (default ``dim``).

    Shapes:
        query: [..., Lq, dim]; key/value: [..., Lk, kv_dim]
        attn_mask: bool [Lq, Lk] (``True`` = may attend) or additive float, optional
        output: [..., Lq, dim]
    """

    def __init__(
        self, dim: int, heads: int = 4, dropout: float = 0.0, kv_dim: int | None = None
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim={dim} must be divisible by heads={heads}")
        kv = kv_dim or dim
        self.dim, self.heads, self.dropout, self.kv_dim = dim, heads, dropout, kv
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(kv, dim)
        self.v = nn.Linear(kv, dim)
        self.out = nn.Linear(dim, dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot weights, zero biases."""
        for lin in (self.q, self.k, self.v, self.out):
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)

    def _split(self, x: Tensor) -> Tensor:
        *lead, n, _ = x.shape
        return x.reshape(*lead, n, self.heads, self.dim // self.heads).transpose(-2, -3)

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
        q, k, v = self._split(self.q(query)), self._split(self.k(key)), self._split(self.v(value))
        lead = q.shape[:-3]
        q, k, v = (t.reshape(-1, *t.shape[-3:]) for t in (q, k, v))
        out = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=attn_mask,
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=causal,
        )
        out = out.transpose(-2, -3).reshape(*lead, query.shape[-2], self.dim)
        return self.out(out)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, heads={self.heads}, dropout={self.dropout}, kv_dim={self.kv_dim}"


class TemporalAttention(nn.Module):
    """:class:`MultiHeadAttention` along the time axis of ``[B, T, N, F]`` tensors, every node
    attending over its own sequence (folded as ``[B, N, T, F]``).

    Args:
        dim: feature size ``F``.
        heads: number of heads.
        dropout: attention dropout.
        causal: each step attends only to itself and earlier steps (self-attention only).

    Shapes:
        x: [B, Tq, N, dim]; memory: [B, Tk, N or 1, dim] (cross-attention), optional
        output: [B, Tq, N, dim]
    """

    def __init__(
        self, dim: int, heads: int = 4, dropout: float = 0.0, causal: bool = False
    ) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(dim, heads, dropout)
        self.causal = causal

    def reset_parameters(self) -> None:
        """Re-initialise the projections."""
        self.attn.reset_parameters()

    def forward(self, x: Tensor, memory: Tensor | None = None) -> Tensor:
        q = x.transpose(1, 2)
        kv = None if memory is None else memory.expand(-1, -1, x.shape[2], -1).transpose(1, 2)
        causal = self.causal and memory is None
        return self.attn(q, kv, causal=causal).transpose(1, 2)

    def extra_repr(self) -> str:
        return f"causal={self.causal}"
