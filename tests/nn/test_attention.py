"""Attention layers equal their definitions, along whichever axis they attend."""

import math

import torch

from stgraph.nn import (
    AdditiveAttention,
    InteractiveAttention,
    MultiHeadAttention,
    TemporalAttention,
    scaled_dot_product,
)


def test_multi_head_attention_equals_torch_multiheadattention():
    ours, ref = MultiHeadAttention(8, heads=2), torch.nn.MultiheadAttention(8, 2, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.q.weight, ours.k.weight, ours.v.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.q.bias, ours.k.bias, ours.v.bias]))
        ref.out_proj.weight.copy_(ours.out.weight)
        ref.out_proj.bias.normal_()
        ours.out.bias.copy_(ref.out_proj.bias)
    q, kv = torch.randn(3, 5, 8), torch.randn(3, 7, 8)
    torch.testing.assert_close(ours(q, kv), ref(q, kv, kv, need_weights=False)[0])
    causal = torch.ones(5, 5, dtype=torch.bool).triu(1)  # torch: True = masked
    torch.testing.assert_close(
        ours(q, causal=True), ref(q, q, q, attn_mask=causal, need_weights=False)[0]
    )


def test_temporal_attention_attends_over_each_nodes_own_sequence():
    """Attending over the time axis of [B, T, N, F] (strided, no transpose) equals running
    the same attention on every node's sequence separately; memory broadcasts over nodes."""
    torch.manual_seed(0)
    attn = TemporalAttention(8, heads=2, causal=True)
    x, mem = torch.randn(2, 5, 3, 8), torch.randn(2, 4, 1, 8)
    seq = _seq(attn)
    per_node = torch.stack([seq(x[:, :, n], causal=True) for n in range(3)], 2)
    torch.testing.assert_close(attn(x), per_node)
    cross = torch.stack([seq(x[:, :, n], mem[:, :, 0]) for n in range(3)], 2)
    torch.testing.assert_close(attn(x, mem), cross)
    torch.testing.assert_close(attn(x, mem), attn(x, mem.expand(-1, -1, 3, -1)))


def _seq(attn: TemporalAttention) -> MultiHeadAttention:
    """The same weights, attending along -2 of [B, T, F]."""
    m = MultiHeadAttention(8, heads=2)
    m.load_state_dict(attn.attn.state_dict())
    return m


def test_scaled_dot_product_is_the_softmax_formula():
    q, k, v = torch.randn(2, 4, 6), torch.randn(2, 5, 6), torch.randn(2, 5, 3)
    ref = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(6), -1) @ v
    torch.testing.assert_close(scaled_dot_product(q, k, v), ref)


def test_additive_attention_is_bahdanaus_formula():
    attn = AdditiveAttention(4, 6, hidden=5)
    q, k = torch.randn(2, 3, 4), torch.randn(2, 7, 6)
    e = attn.v(torch.tanh(attn.w(q)[:, :, None] + attn.u(k)[:, None])).squeeze(-1)  # [B, Lq, Lk]
    torch.testing.assert_close(attn(q, k), torch.softmax(e, -1) @ k)
    x = torch.randn(2, 5, 4)
    y = x.clone()
    y[:, 3:] += 1.0  # the future of step 2
    a = AdditiveAttention(4, 4)
    torch.testing.assert_close(a(x, causal=True)[:, :3], a(y, causal=True)[:, :3])


def test_interactive_attention_is_the_seeds_bilinear_form():
    attn = InteractiveAttention(4, 6)
    x, y = torch.randn(2, 3, 4), torch.randn(2, 5, 6)
    scores = attn.w(x) @ y.transpose(1, 2) / math.sqrt(6)
    torch.testing.assert_close(attn(x, y), torch.softmax(scores, -1) @ y)
