"""AGCRN: node-adaptive weights (nodes differ by their embeddings only), equivariance under a
permutation of the nodes together with their embeddings, and the given graph is ignored."""

from __future__ import annotations

import torch

from stgraph.models import ModelSpec, build_model, get_model

N = 7
SPEC = ModelSpec(1, 1, 12, 3, N)


def _model():
    torch.manual_seed(0)
    return build_model("agcrn", SPEC, hidden=8).eval()


def _ring(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    src = torch.arange(n)
    return torch.stack([src, (src + 1) % n]), torch.rand(n)


def test_weights_are_node_adaptive():
    model = _model()
    conv = model.layers[0].cell.gates
    with torch.no_grad():
        weight, bias = conv.node_weights()
    assert weight.shape[0] == N and bias.shape == (N, conv.out_channels)
    assert float((weight - weight[:1]).abs().flatten(1).amax(1)[1:].min()) > 0
    # the same series on every node: only the node-generated weights can tell nodes apart
    # (the learned graph averages identical rows into identical rows)
    x, cov = torch.randn(2, 12, 1, 1).expand(2, 12, N, 1), torch.rand(2, 15, 1, 2)
    with torch.no_grad():
        out = model(x, None, None, cov)
        spread = float((out - out[:, :, :1]).abs().amax(dim=(0, 1, 3))[1:].min())
        assert spread > 1e-4
        model.adjacency.source.copy_(model.adjacency.source[:1].expand(N, -1))
        same = model(x, None, None, cov)
    assert torch.allclose(same, same[:, :, :1].expand_as(same), atol=1e-6)


def test_permuting_nodes_with_their_embeddings_permutes_the_output():
    model = _model()
    perm = torch.randperm(N, generator=torch.Generator().manual_seed(3))
    x, cov = torch.randn(2, 12, N, 1), torch.rand(2, 15, 1, 2)
    with torch.no_grad():
        out = model(x, None, None, cov)
        model.adjacency.source.copy_(model.adjacency.source[perm])
        permuted = model(x[:, :, perm], None, None, cov)
    assert torch.allclose(permuted, out[:, :, perm], atol=1e-5)
    assert not torch.allclose(permuted, out, atol=1e-3)  # the permutation is not trivial


def test_the_given_graph_is_ignored_and_declared_so():
    model = _model()
    x = torch.randn(2, 12, N, 1)
    with torch.no_grad():
        assert torch.equal(model(x, *_ring(N)), model(x, torch.zeros(2, 0, dtype=torch.long)))
    caps = get_model("agcrn").capabilities
    assert not caps.uses_graph and caps.adaptive_graph


def test_node_major_fast_path_equals_the_cell_unrolled_step_by_step():
    """The forward pass (node_adaptive_gru: split X/H products, weights generated once) is
    the same function as RecurrentLayer over the GraphGRUCell of NodeAdaptiveGraphConv gates,
    with k = 3 so the Chebyshev recursion is exercised, in values and in gradients."""
    from stgraph.models.common import with_time_features

    torch.manual_seed(1)
    model = build_model("agcrn", SPEC, hidden=8, layers=2, k=3).double()
    x, cov = torch.randn(3, 12, N, 1).double(), torch.rand(3, 15, 1, 2).double()

    def reference():
        h = with_time_features(x, cov, model.num_covariates)
        for layer in model.layers:
            h = layer(h)
        return model.head(h, x)

    fast, ref = model(x, None, None, cov), reference()
    assert torch.allclose(fast, ref, atol=1e-10)
    params = list(model.parameters())
    g_fast = torch.autograd.grad(fast.square().sum(), params)
    g_ref = torch.autograd.grad(ref.square().sum(), params)
    for a, b in zip(g_fast, g_ref, strict=True):
        assert torch.allclose(a, b, atol=1e-9)
