"""LSTM / GRU forecasters: nodes are independent sequences through one shared network."""

from __future__ import annotations

import pytest
import torch

from stgraph.models import ModelSpec, build_model, get_model
from stgraph.models.sequence import _SequenceForecaster
from tests.nn.conftest import random_graph


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_a_node_forecast_reads_only_its_own_history(name):
    """Changing every other node's inputs leaves node 0's forecast bit-for-bit the same, and
    node 0's forecast is what the network gives for node 0 alone (weights shared)."""
    torch.manual_seed(0)
    model = build_model(name, ModelSpec(1, 1, 12, 3, 6), hidden=8).eval()
    x, cov = torch.randn(2, 12, 6, 1), torch.rand(2, 15, 1, 2)
    ei, ew = random_graph()
    other = x.clone()
    other[:, :, 1:] = torch.randn(2, 12, 5, 1)
    with torch.no_grad():
        out, out_other = model(x, ei, ew, cov), model(other, ei, ew, cov)
        alone = model(x[:, :, :1], ei[:, :0], ew[:0], cov)
    assert torch.equal(out[:, :, 0], out_other[:, :, 0])
    assert not torch.allclose(out[:, :, 1:], out_other[:, :, 1:])
    assert torch.allclose(out[:, :, :1], alone, atol=1e-6)


def test_lstm_and_gru_share_one_implementation_and_size():
    """Both are the one sequence forecaster; the LSTM has 4 gate blocks, the GRU 3."""
    for name in ("lstm", "gru"):
        assert issubclass(get_model(name).cls, _SequenceForecaster)
        assert not get_model(name).capabilities.uses_graph
    spec = ModelSpec(1, 1, 12, 12, 207)
    count = {n: sum(p.numel() for p in build_model(n, spec).parameters()) for n in ("lstm", "gru")}
    f, h, head = 1 + 4, 64, 64 * 12 + 12  # values + 4 calendar features; 2 layers of 64

    def rnn(gates: int) -> int:
        return gates * h * (f + h + 2) + gates * h * (h + h + 2)

    assert count == {"lstm": rnn(4) + head, "gru": rnn(3) + head}
