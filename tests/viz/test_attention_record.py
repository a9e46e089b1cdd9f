"""record_attention: the recorded weights are the ones the layers used (they rebuild the
layers' outputs), rows sum to 1 over the keys, and recording changes no output."""

from __future__ import annotations

import math

import pytest
import torch

import stgraph.nn.temporal.graph_recurrent as graph_recurrent
from stgraph.models import ModelSpec, build_model
from stgraph.nn import AdditiveAttention, AttentionGRU, MultiHeadAttention, SpatialAttention
from stgraph.nn.attention import record
from stgraph.nn.ops.fold import merge_heads
from stgraph.viz import record_attention

B, T, N, F = 2, 6, 5, 8


def _ring(n: int) -> torch.Tensor:
    src = torch.arange(n)
    return torch.stack([src, (src + 1) % n])


def _rows_sum_to_one(w: torch.Tensor) -> None:
    torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))


def test_temporal_weights_rebuild_the_multi_head_output():
    """out = W_O [alpha V_h]: the recorded [B, N, heads, T, T] weights, applied to the
    projected values, give the module's output (they are the weights it used)."""
    torch.manual_seed(0)
    attn = MultiHeadAttention(F, heads=2, axis=1).eval()
    x = torch.randn(B, T, N, F)
    with record_attention(attn, full=True) as maps:
        out = attn(x, causal=True)
    (w,) = maps[""].weights
    assert maps[""].kind == "temporal" and w.shape == (B, N, 2, T, T)
    _rows_sum_to_one(w)
    assert (w.triu(1) == 0).all()  # causal: no weight on later steps
    v = attn.v(x).reshape(B, T, N * 2, F // 2).transpose(1, 2)  # [B, N * heads, T, d]
    mixed = w.reshape(B, N * 2, T, T) @ v
    torch.testing.assert_close(attn.out(merge_heads(mixed, N)), out)


def test_masked_spatial_weights_stay_on_the_graph_and_average_to_a_node_map():
    torch.manual_seed(0)
    layer = SpatialAttention(F, F, heads=2).eval()
    ei = _ring(N)
    with record_attention(layer, full=True) as maps:
        layer(torch.randn(B, T, N, F), ei)
    rec = maps["attn"]
    (w,) = rec.weights
    assert rec.kind == "spatial" and w.shape == (B * T, 1, 2, N, N)
    _rows_sum_to_one(w)
    allowed = torch.eye(N, dtype=torch.bool)
    allowed[ei[1], ei[0]] = True  # node i hears its in-neighbours j -> i and itself
    assert (w[..., ~allowed] == 0).all() and (w[..., allowed] > 0).all()
    assert rec.mean().shape == (N, N)
    _rows_sum_to_one(rec.mean())


def test_additive_weights_rebuild_the_output():
    torch.manual_seed(0)
    attn = AdditiveAttention(4, 4, hidden=5, axis=1)
    x = torch.randn(B, T, N, 4)
    with record_attention(attn, full=True) as maps:
        out = attn(x)
    (w,) = maps[""].weights  # [B, N, 1, T, T]
    _rows_sum_to_one(w)
    torch.testing.assert_close(torch.einsum("bnqk,bknf->bqnf", w[:, :, 0], x), out)


def test_recurrent_attention_weights_match_the_recurrence(monkeypatch):
    """The weights rebuilt from the layer's outputs equal those of its own attention step
    over the tape of states (step t attends states 0..t; step 0 reads state 0)."""
    torch.manual_seed(0)
    layer = AttentionGRU(3, 4)
    seen: list[torch.Tensor] = []
    attend = graph_recurrent._attend_tape

    def spy(tape, query):
        hs = torch.stack(tape, dim=-2)
        seen.append(torch.softmax((hs @ query.unsqueeze(-1)).squeeze(-1) / math.sqrt(4), -1))
        return attend(tape, query)

    monkeypatch.setattr(graph_recurrent, "_attend_tape", spy)
    with record_attention(layer, full=True) as maps:
        layer(torch.randn(B, T, N, 3))
    (w,) = maps[""].weights
    assert maps[""].kind == "temporal" and w.shape == (B, N, 1, T, T + 1)
    _rows_sum_to_one(w)
    assert (w[..., 0, 0] == 1).all()
    for t, alpha in enumerate(seen, start=1):  # alpha: [B, N, t + 1]
        torch.testing.assert_close(w[:, :, 0, t, : t + 1], alpha)
        assert (w[:, :, 0, t, t + 1 :] == 0).all()


SPEC = ModelSpec(in_channels=1, out_channels=1, lookback=T, horizon=3, num_nodes=N)
MODELS = {
    "st-transformer": {"dim": 8, "heads": 2, "layers": 1},
    "gman": {"dim": 8, "heads": 2, "blocks": 1, "embedding_dim": 8},
    "astgcn": {"hidden": 4, "dim": 4, "blocks": 1},
    "staeformer": {"dim": 4, "adaptive_dim": 4, "hidden": 8, "heads": 2, "layers": 1},
    "gcn-transformer": {"dim": 8, "heads": 2, "layers": 1},
    "a3tgcn": {"hidden": 8},
    "att-gru": {"dim": 8},
}


@pytest.mark.parametrize("name", MODELS)
def test_models_record_maps_and_recording_changes_no_output(name):
    import stgraph.viz.attention  # noqa: F401  (registers the model-specific layers)

    torch.manual_seed(0)
    model = build_model(name, SPEC, **MODELS[name]).eval()
    x, cov = torch.randn(B, T, N, 1), torch.rand(B, T + 3, 1, 2)
    ei = torch.cat([_ring(N), _ring(N).flip(0)], 1)
    ew = torch.ones(ei.shape[1])
    with torch.no_grad():
        before = model(x, ei, ew, cov)
        with record_attention(model) as maps:
            during = model(x, ei, ew, cov)
        after = model(x, ei, ew, cov)
    assert torch.equal(before, during) and torch.equal(before, after)
    assert maps, f"{name}: no attention recorded"
    for rec in maps.values():
        _rows_sum_to_one(rec.mean())
    assert not record.ACTIVE
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
