"""GraphOperator: both layouts compute P x (+ add) and its gradient; the cache is exact."""

import gc

import pytest
import torch

from stgraph.nn import GCNConv, GraphOperator, choose_layout
from tests.nn.conftest import dense_adjacency, random_graph


@pytest.mark.parametrize("layout", ["dense", "sparse"])
@pytest.mark.parametrize("learnable", [False, True])
@pytest.mark.parametrize(("with_add", "alpha"), [(True, 2.0), (False, 2.0), (False, 1.0)])
def test_operator_is_the_transposed_adjacency_with_fused_add_and_its_gradient(
    layout, learnable, with_add, alpha
):
    ei, w = random_graph(7, symmetric=False)
    w = w.clone().requires_grad_(learnable)
    x = torch.randn(2, 3, 7, 4, requires_grad=True)
    add = torch.randn(2, 3, 7, 4, requires_grad=True) if with_add else None
    out = GraphOperator(ei, w, 7, layout)(x, add=add, alpha=alpha)
    ref = alpha * dense_adjacency(ei, w, 7).t() @ x + (add if with_add else 0.0)
    torch.testing.assert_close(out, ref)
    g = torch.randn_like(out)
    wrt = [x] + ([add] if with_add else []) + ([w] if learnable else [])
    for got, want in zip(
        torch.autograd.grad(out, wrt, g), torch.autograd.grad(ref, wrt, g), strict=True
    ):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("layout", ["dense", "sparse"])
def test_a_stride_zero_gradient_from_sum_is_handled(layout):
    ei, w = random_graph(5)
    x = torch.randn(4, 5, 3, requires_grad=True)
    GraphOperator(ei, w, 5, layout)(x).sum().backward()  # sum() sends an expanded gradient
    torch.testing.assert_close(x.grad, dense_adjacency(ei, w, 5).sum(1)[:, None].expand(4, 5, 3))


@pytest.mark.parametrize("layout", ["dense", "sparse"])
def test_learnable_edge_weights_receive_gradients(layout):
    ei, w = random_graph(5)
    w = w.clone().requires_grad_(True)
    conv = GCNConv(3, 2, layout=layout)
    conv(torch.randn(2, 5, 3), ei, w).square().sum().backward()
    assert w.grad is not None and w.grad.abs().sum() > 0


def test_operator_cache_hits_the_same_graph_and_rebuilds_on_any_change():
    conv, x = GCNConv(3, 2), torch.randn(5, 3)
    ei, w = random_graph(5)
    out = conv(x, ei, w)
    ops = lambda: {id(v[2]) for v in conv.__dict__["_stgraph_op_cache"].values()}  # noqa: E731
    first = ops()
    conv(x, ei, w)
    assert ops() == first  # same tensors: reused
    w.mul_(2.0)  # in-place change: rebuilt, and the result follows the new weights
    conv(x, ei, w)
    assert ops() != first
    ref = GCNConv(3, 2)
    ref.load_state_dict(conv.state_dict())
    for seed in range(1, 5):  # new graphs as temporaries (addresses get recycled) never hit
        ei2, w2 = random_graph(5, seed=seed)
        torch.testing.assert_close(conv(x, ei2.clone(), w2.clone()), ref(x, ei2, w2))
        gc.collect()
    assert not torch.allclose(out, ref(x, ei2, w2))


def test_auto_layout_rule():
    """Crossovers measured forward + backward (see choose_layout's docstring): each case is
    a point where the chosen product was the faster one by at least 10 %."""
    # large products (49,152 columns, e.g. a [64, 12, N, 64] block)
    assert choose_layout(100, 100 * 21) == "dense"  # dense 1.3x faster
    assert choose_layout(100, 100 * 3) == "sparse"  # CSR 1.6x faster
    assert choose_layout(207, 207 * 6) == "sparse"  # METR-LA-like block: CSR 2.1x faster
    assert choose_layout(207, 207 * 91) == "dense"  # dense 2.4x faster
    assert choose_layout(400, 400 * 86) == "dense"  # dense 1.1x faster
    assert choose_layout(400, 400 * 45) == "sparse"  # CSR 1.35x faster
    assert choose_layout(2000, 2000 * 9) == "sparse"
    # small products (4,096 columns, e.g. a recurrent step)
    assert choose_layout(207, 207 * 8, columns=64 * 64) == "sparse"  # CSR 1.9x faster
    assert choose_layout(207, 207 * 91, columns=4096) == "dense"  # dense 2.9x faster
    assert choose_layout(100, 100 * 21, columns=4096) == "dense"  # dense 1.6x faster
    assert choose_layout(300, 300 * 21, columns=4096) == "sparse"  # CSR 1.9x faster


@pytest.mark.parametrize("with_add", [False, True])
def test_large_dense_product_is_one_gemm_with_the_same_values_and_gradients(with_add):
    """From DENSE_GEMM_NODES nodes a dense product runs as one node-major GEMM: the same
    values and gradients (learned matrix, input, addition) as the explicit product."""
    from stgraph.nn.ops.propagate import DENSE_GEMM_NODES

    n = DENSE_GEMM_NODES + 3
    g = torch.Generator().manual_seed(0)
    m = torch.rand(n, n, generator=g, dtype=torch.float64).requires_grad_()
    x = torch.randn(2, 3, n, 4, generator=g, dtype=torch.float64).requires_grad_()
    add = torch.randn(2, 3, n, 4, generator=g, dtype=torch.float64).requires_grad_()
    op = GraphOperator.from_dense(m)
    out = op(x, add if with_add else None, alpha=0.5)
    ref = 0.5 * torch.einsum("ij,btjf->btif", m, x) + (add if with_add else 0)
    assert torch.allclose(out, ref, atol=1e-12)
    w = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    inputs = [m, x, add] if with_add else [m, x]
    for a, b in zip(
        torch.autograd.grad((out * w).sum(), inputs),
        torch.autograd.grad((ref * w).sum(), inputs),
        strict=True,
    ):
        assert torch.allclose(a, b, atol=1e-10)
