"""Scalers: fit on observed training values only, exact inverse."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stgraph.data import OutlierWarning, Protocol
from stgraph.data.scalers import SCALERS, make_scaler, scaler_from_state


@pytest.mark.parametrize("kind", sorted(SCALERS))
def test_inverse_transform_is_exact_and_state_round_trips(kind):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 4, 3, generator=g) * 10 + 5
    m = torch.rand(50, 4, 3, generator=g) > 0.2
    s = make_scaler(kind).fit(x, m)
    assert torch.allclose(s.inverse_transform(s.transform(x)), x, atol=1e-4)
    s2 = scaler_from_state(s.state_dict())
    assert torch.equal(s2.transform(x), s.transform(x))


def test_zscore_uses_only_observed_entries():
    x = torch.tensor([1.0, 3.0, 1000.0]).view(3, 1, 1)
    m = torch.tensor([True, True, False]).view(3, 1, 1)
    s = make_scaler("zscore").fit(x, m)
    assert float(s.shift) == pytest.approx(2.0) and float(s.scale) == pytest.approx(1.0)


def test_per_node_scaler_falls_back_to_global_for_unobserved_node():
    x = torch.tensor([[1.0, 50.0], [3.0, 70.0]]).unsqueeze(-1)
    m = torch.tensor([[True, False], [True, False]]).unsqueeze(-1)
    s = make_scaler("zscore-node").fit(x, m)
    assert s.shift[:, 0].tolist() == pytest.approx([2.0, 2.0])


def test_poisoning_non_training_values_does_not_change_the_fitted_scaler(tiny_traffic):
    p = Protocol("tiny", lookback=12, horizon=12, scaler="zscore-node")
    clean = p.fit(tiny_traffic)
    end = clean.bounds.train_end
    values = tiny_traffic.values.clone()
    poisoned_values = tiny_traffic.values
    try:
        poisoned_values[end:] = 1e6  # val + test poisoned in place
        poisoned = p.fit(tiny_traffic)
    finally:
        poisoned_values.copy_(values)
    assert poisoned.scaler_state == clean.scaler_state
    # and poisoning one training value does move it (the test can fail)
    try:
        poisoned_values[end - 1] = 1e6
        with pytest.warns(OutlierWarning, match=r"1e\+06"):
            moved = p.fit(tiny_traffic)
    finally:
        poisoned_values.copy_(values)
    assert moved.scaler_state != clean.scaler_state


def test_fit_without_observations_fails_clearly():
    with pytest.raises(ValueError, match="no observed value"):
        make_scaler("zscore").fit(torch.zeros(3, 2, 1), torch.zeros(3, 2, 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="unknown scaler"):
        make_scaler("robust")


def test_minmax_maps_training_range_to_unit_interval():
    x = torch.from_numpy(np.linspace(-3, 7, 20, dtype=np.float32)).view(20, 1, 1)
    s = make_scaler("minmax").fit(x, torch.ones_like(x, dtype=torch.bool))
    z = s.transform(x)
    assert float(z.min()) == pytest.approx(0.0) and float(z.max()) == pytest.approx(1.0)
