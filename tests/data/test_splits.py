"""Chronological splits: no target leaks across splits."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stgraph.data import SplitBounds, bounds_from_dates, bounds_from_fractions, window_starts


def test_fraction_boundaries():
    b = bounds_from_fractions(1000, (0.7, 0.1, 0.2))
    assert (b.train_end, b.val_end, b.num_steps) == (700, 800, 1000)
    with pytest.raises(ValueError, match="summing to 1"):
        bounds_from_fractions(1000, (0.7, 0.2, 0.2))


def test_date_boundaries():
    ts = pd.date_range("2024-01-01", periods=48, freq="h")
    b = bounds_from_dates(ts, "2024-01-02", "2024-01-02 12:00")
    assert (b.train_end, b.val_end) == (24, 36)


@given(
    t=st.integers(60, 400),
    lookback=st.integers(1, 12),
    horizon=st.integers(1, 12),
    stride=st.integers(1, 4),
    f_train=st.floats(0.3, 0.8),
    f_val=st.floats(0.05, 0.15),
)
def test_targets_stay_inside_their_split_and_inputs_never_look_ahead(
    t, lookback, horizon, stride, f_train, f_val
):
    b = bounds_from_fractions(t, (f_train, f_val, 1 - f_train - f_val))
    seen_targets: dict[str, set[int]] = {}
    for split in ("train", "val", "test"):
        lo, hi = b.target_range(split)
        starts = window_starts(b, split, lookback, horizon, stride)
        targets = {int(s) + lookback + h for s in starts for h in range(horizon)}
        assert all(lo <= x < hi for x in targets), split
        assert all(s >= 0 and s + lookback <= hi for s in starts)
        seen_targets[split] = targets
    assert not seen_targets["train"] & seen_targets["val"]
    assert not seen_targets["val"] & seen_targets["test"]
    assert not seen_targets["train"] & seen_targets["test"]
    # with stride 1 every admissible window is used (none is dropped near a boundary)
    if stride == 1:
        lo, hi = b.target_range("test")
        assert len(window_starts(b, "test", lookback, horizon)) == max(
            0, hi - max(lo - lookback, 0) - lookback - horizon + 1
        )


def test_invalid_bounds():
    with pytest.raises(ValueError, match="0 < train_end"):
        SplitBounds(0, 5, 10)
