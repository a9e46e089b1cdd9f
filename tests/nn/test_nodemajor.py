"""Node-major filters: the fused diffusion filter (both directions, all powers, one GEMM per
term) and the node-major GRU step equal the straightforward formulas, values and gradients."""

import pytest
import torch

from stgraph.nn import DiffusionConv, GraphGRUCell

from .conftest import dense_adjacency, random_graph


def diffusion_formula(conv: DiffusionConv, x, ei, w, n):
    """``[x, P_f x, .., P_f^K x, P_b x, .., P_b^K x] W^T + b`` with dense random walks."""
    a = dense_adjacency(ei, w.float(), n).double()
    out_deg, in_deg = a.sum(1, keepdim=True), a.sum(0, keepdim=True)
    walks = [(a / out_deg).t(), a / in_deg]  # P[target, source]
    terms = [x]
    for p in walks[: 2 if conv.bidirectional else 1]:
        t = x
        for _ in range(conv.k):
            t = p @ t
            terms.append(t)
    return torch.nn.functional.linear(
        torch.cat(terms, -1), conv.lin.weight.double(), conv.lin.bias.double()
    )


@pytest.mark.parametrize("layout", ["sparse", "dense"])
@pytest.mark.parametrize(("k", "bidirectional"), [(1, True), (2, True), (3, False)])
def test_node_major_diffusion_is_the_formula(layout, k, bidirectional):
    n = 7
    ei, w = random_graph(n, symmetric=False)
    conv = DiffusionConv(3, 5, k=k, bidirectional=bidirectional, layout=layout).double()
    torch.nn.init.normal_(conv.lin.bias)
    x = torch.randn(n, 4, 3, dtype=torch.float64, requires_grad=True)  # [N, B, F]
    ref = diffusion_formula(conv, x.transpose(0, 1), ei, w.double(), n).transpose(0, 1)
    out = conv.forward_node_major(x, ei, w.double())
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(out, conv(x.transpose(0, 1), ei, w.double()).transpose(0, 1))
    node_major = NodeMajor(conv)
    params = {k: v.detach().clone().requires_grad_() for k, v in conv.named_parameters()}

    def f(x, weight, bias):
        p = {"conv.lin.weight": weight, "conv.lin.bias": bias}
        return torch.func.functional_call(node_major, p, (x, ei, w.double()))

    assert torch.autograd.gradcheck(f, (x, params["lin.weight"], params["lin.bias"]))


class NodeMajor(torch.nn.Module):
    def __init__(self, conv: DiffusionConv) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x, ei, w):
        return self.conv.forward_node_major(x, ei, w)


def test_gru_cell_node_major_step_is_the_dcrnn_recurrence():
    n = 6
    ei, w = random_graph(n)
    cell = GraphGRUCell(3, 4, lambda i, o: DiffusionConv(i, o, k=2)).double()
    x = torch.randn(2, n, 3, dtype=torch.float64)
    h = torch.randn(2, n, 4, dtype=torch.float64, requires_grad=True)
    r, u = torch.sigmoid(cell.gates(torch.cat([x, h], -1), ei, w)).chunk(2, -1)
    c = torch.tanh(cell.candidate(torch.cat([x, r * h], -1), ei, w))
    ref = u * h + (1 - u) * c
    out = cell(x, h, ei, w)
    torch.testing.assert_close(out, ref)
    g = torch.randn_like(ref)
    (gr,) = torch.autograd.grad(ref, h, g)
    (go,) = torch.autograd.grad(out, h, g)
    torch.testing.assert_close(go, gr)
    # the state runs on node-major storage and feeds the next step without a copy
    assert out.stride(1) > out.stride(0)
    torch.testing.assert_close(cell(x, out, ei, w), cell(x, out.contiguous(), ei, w))


def test_learnable_edge_weights_take_the_generic_path_and_get_gradients():
    ei, w = random_graph(5)
    w = w.clone().requires_grad_()
    cell = GraphGRUCell(2, 3, lambda i, o: DiffusionConv(i, o, k=2))
    cell(torch.randn(2, 5, 2), None, ei, w).sum().backward()
    assert w.grad is not None and w.grad.abs().sum() > 0


def test_node_major_operator_is_rebuilt_for_a_new_graph():
    conv = DiffusionConv(2, 3, k=2)
    x = torch.randn(5, 2, 2)
    ei1, w1 = random_graph(5, seed=1)
    ei2, w2 = random_graph(5, seed=2)
    a, b = conv.forward_node_major(x, ei1, w1), conv.forward_node_major(x, ei2, w2)
    torch.testing.assert_close(b, conv(x.transpose(0, 1), ei2, w2).transpose(0, 1))
    assert not torch.allclose(a, b)
