"""STGCN: receptive field, lookback check, the valid gated convolution, parameter count."""

from __future__ import annotations

import pytest
import torch

from stgraph.models import ModelSpec, build_model
from stgraph.models.stgcn import GLUTemporalConv, stgcn_min_lookback
from tests.nn.conftest import random_graph


@pytest.mark.parametrize(("blocks", "kernel_size"), [(2, 3), (1, 2), (3, 2)])
def test_receptive_field_is_exactly_the_lookback(blocks, kernel_size):
    """At the shortest accepted lookback the output layer's kernel is 1 and every input step
    reaches the output; one step less is refused with an error naming the lookback."""
    need = stgcn_min_lookback(blocks, kernel_size)
    assert need == 2 * blocks * (kernel_size - 1) + 1
    hp = {"dim": 8, "bottleneck": 4, "blocks": blocks, "kernel_size": kernel_size}
    with pytest.raises(ValueError, match=f"lookback={need - 1}"):
        build_model("stgcn", ModelSpec(1, 1, need - 1, 3, 6), **hp)
    for lookback in (need, need + 3):
        torch.manual_seed(0)
        model = build_model("stgcn", ModelSpec(1, 1, lookback, 3, 6), **hp)
        assert model.out_conv.kernel_size == lookback - need + 1
        x = torch.randn(2, lookback, 6, 1, requires_grad=True)
        model(x, *random_graph()).sum().backward()
        reach = x.grad.abs().sum(dim=(0, 2, 3))
        assert bool((reach > 0).all()), reach


def test_a_window_of_another_length_is_refused():
    model = build_model("stgcn", ModelSpec(1, 1, 12, 3, 6), dim=8)
    with pytest.raises(ValueError, match="lookback=12"):
        model(torch.randn(1, 10, 6, 1), *random_graph())


def test_gated_conv_is_a_valid_convolution_with_a_glu():
    """Output step ``s`` reads input steps ``s .. s + K - 1`` only, gated as P * sigmoid(Q)."""
    torch.manual_seed(0)
    conv, k = GLUTemporalConv(3, 4, 3), 3
    x = torch.randn(2, 7, 5, 3)
    w, b = conv.conv.lin.weight, conv.conv.lin.bias  # taps: block j reads lag j
    ref = []
    for s in range(7 - k + 1):
        z = sum(x[:, s + k - 1 - j] @ w[:, j * 3 : (j + 1) * 3].T for j in range(k)) + b
        p, q = z.chunk(2, -1)
        ref.append(p * torch.sigmoid(q))
    assert torch.allclose(conv(x), torch.stack(ref, 1), atol=1e-6)


def _expected_params(f: int, cov: int, n: int, h: int, dim=64, bn=16, kt=3, ks=3) -> int:
    def glu(i: int, o: int, k: int) -> int:
        return i * k * 2 * o + 2 * o

    def block(i: int) -> int:
        return glu(i, dim, kt) + ks * dim * bn + bn + glu(bn, dim, kt) + 2 * n * dim

    ko = 12 - 2 * 2 * (kt - 1)
    return block(f + cov) + block(dim) + glu(dim, dim, ko) + 2 * n * dim + dim * h + h


# synthetic-traffic shape: N=124, F=1, L=12, H=12, C=2 (4 calendar features)
@pytest.mark.parametrize("count", [126764], ids=lambda c: f"stgcn-default-params={c}")
def test_default_parameter_count(count):
    model = build_model("stgcn", ModelSpec(1, 1, 12, 12, 124, 2))
    assert sum(p.numel() for p in model.parameters()) == _expected_params(1, 4, 124, 12) == count
