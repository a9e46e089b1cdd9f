"""Attention-CNN: CBAM's channel attention formula, and attention only re-weights."""

import torch

from stgraph.nn import AttentionCNN, ChannelAttention
from tests.nn.conftest import random_graph


def test_channel_attention_is_cbams_formula():
    att = ChannelAttention(6, reduction=2)
    x = torch.randn(2, 3, 5, 6)
    m = torch.sigmoid(att.mlp(x.mean(-2)) + att.mlp(x.amax(-2)))
    torch.testing.assert_close(att(x), x * m[..., None, :])


def test_attention_scales_the_convolved_features_into_zero_one():
    layer = AttentionCNN(3, 4)
    ei, w = random_graph(6)
    x = torch.randn(2, 3, 6, 3)
    feats = torch.relu(layer.conv(x, ei, w))
    out = layer(x, ei, w)
    assert (out >= 0).all() and (out <= feats + 1e-6).all()
    assert not torch.allclose(out, feats)
