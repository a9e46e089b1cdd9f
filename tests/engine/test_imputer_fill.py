"""The learned imputer's input fill: the entries the model does not see are the IDW mean of
the stations visible at the same step (never their own value), or 0 with
``input_fill="zero"``; the observation-mask channel is unchanged."""

from __future__ import annotations

import pytest
import torch

from stgraph.data import SpatioTemporalData
from stgraph.data.protocol import Protocol
from stgraph.engine.config import ConfigError, TrainConfig
from stgraph.engine.imputer import WindowImputer, train_imputer
from stgraph.graph.idw import NodeIDW, idw_interpolate, station_distances


@pytest.fixture(scope="module")
def short(tiny_traffic):
    """The first day of ``tiny_traffic`` (T = 288)."""
    d = tiny_traffic
    return SpatioTemporalData(
        d.values[:288], d.mask[:288], d.timestamps[:288], d.graph, name=d.name
    )


class _Inputs(torch.nn.Module):
    """Keeps the inputs it was given; outputs zeros."""

    def __init__(self):
        super().__init__()
        self.inputs = []

    def forward(self, x, *args):
        self.inputs.append(x)
        return x[..., : x.shape[-1] // 2] * 0


def _model_input(data, idw):
    """The model input of a 4-step window with node 0 hidden (its true value huge)."""
    proto = Protocol(data.name, lookback=1, horizon=4).fit(data)
    net = _Inputs()
    imputer = WindowImputer(net, proto, data.graph.edge_index, data.graph.edge_weight, 0.25, idw)
    y, visible = data.values[None, :4].clone(), data.mask[None, :4].clone()
    visible[:, :, 0] = False
    y[:, :, 0] = 1e6
    imputer._run(y, visible, data.covariates[None, :4])
    return net.inputs[0], proto, y, visible


def test_hidden_entries_are_the_idw_mean_of_the_visible_stations(short):
    f, n = short.num_features, short.num_nodes
    x, proto, y, visible = _model_input(short, NodeIDW(short.graph))
    assert torch.equal(x[..., f:].bool(), visible)  # the indicator channel: observed entries
    d = station_distances(short.graph, [0], range(1, n))
    est, ok = idw_interpolate(y[..., 1:, :], visible[..., 1:, :], d)
    assert ok.all()
    expected = y.clone()
    expected[..., :1, :] = est
    scaled = proto.get_scaler().transform(expected)[..., 0, :]
    assert torch.allclose(x[..., 0, :f], scaled, atol=1e-5)
    assert (x.abs() < 1e3).all()  # node 0's own value never reaches the input


def test_zero_fill_keeps_hidden_inputs_at_zero(short):
    f = short.num_features
    x, _, _, visible = _model_input(short, None)
    assert (x[..., 0, :f] == 0).all() and (x[..., :f][~visible] == 0).all()


def test_unknown_fill_is_refused(short):
    proto = Protocol(short.name, lookback=1, horizon=4).fit(short)
    tiny = TrainConfig(epochs=1, max_batches=1, batch_size=8, progress=False)
    with pytest.raises(ConfigError, match="input_fill"):
        train_imputer(short, proto, "tgcn", {"hidden": 4}, tiny, input_fill="mean")
