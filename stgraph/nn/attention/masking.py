"""The attention masks of :func:`torch.nn.functional.scaled_dot_product_attention`, for
layers (and the attention recorder) that compute their weights explicitly."""

from __future__ import annotations

import torch
from torch import Tensor


def masked_softmax(scores: Tensor, attn_mask: Tensor | None = None, causal: bool = False) -> Tensor:
    r"""Attention weights from scores, masked as
    :func:`torch.nn.functional.scaled_dot_product_attention` masks them.

    .. math::
        \alpha_{ij} = \frac{\exp(s_{ij} + m_{ij})}{\sum_{j'} \exp(s_{ij'} + m_{ij'})}, \qquad
        m_{ij} = -\infty \text{ where } j \text{ may not be attended (or } j > i
        \text{ when causal), else the additive mask or } 0

    Args:
        scores: query x key scores.
        attn_mask: bool ``[Lq, Lk]`` (``True`` = may attend) or an additive float mask.
        causal: query ``i`` attends to keys ``<= i`` only.

    Shapes:
        scores: [..., Lq, Lk] -> [..., Lq, Lk] (rows sum to 1)
    """
    lq, lk = scores.shape[-2:]
    if causal:
        keep = torch.ones(lq, lk, dtype=torch.bool, device=scores.device).tril()
        scores = scores.masked_fill(~keep, float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        else:
            scores = scores + attn_mask
    return scores.softmax(-1)
