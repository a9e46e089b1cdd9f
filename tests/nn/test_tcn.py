"""Dilated causal convolution reads exactly the taps t, t-d, ..., t-(K-1)d."""

import torch

from stgraph.nn import GatedTemporalConv


def test_dilated_causal_convolution_reads_exactly_its_taps():
    conv = GatedTemporalConv(2, 3, kernel_size=3, dilation=2).eval()
    x = torch.randn(1, 10, 4, 2)
    t = 8
    for s in range(10):
        y = x.clone()
        y[:, s] += 1.0
        changed = not torch.allclose(conv(x)[:, t], conv(y)[:, t])
        assert changed == (s in (8, 6, 4)), s


def test_gating_is_tanh_times_sigmoid():
    conv = GatedTemporalConv(2, 3, kernel_size=1)
    x = torch.randn(2, 4, 5, 2)
    f, g = conv.lin(x).chunk(2, -1)
    torch.testing.assert_close(conv(x), torch.tanh(f) * torch.sigmoid(g))
