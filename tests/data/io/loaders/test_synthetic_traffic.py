"""The embedded synthetic-traffic dataset: deterministic, matches its card, learnable signals."""

from __future__ import annotations

import torch

from stgraph.data import load_dataset
from stgraph.data.io.cards import load_card


def test_default_dataset_matches_its_card_and_is_deterministic():
    a, b = load_dataset("synthetic-traffic"), load_dataset("synthetic-traffic")
    card = load_card("synthetic-traffic")
    assert tuple(a.values.shape) == (card["steps"], card["nodes"], 1)
    assert a.graph.directed and a.graph.crs == "EPSG:4326" and not a.graph.isolated_nodes()
    assert torch.equal(a.values, b.values) and torch.equal(a.mask, b.mask)
    assert 0.02 < a.missing_fraction < 0.04
    assert torch.equal(a.values[~a.mask], torch.zeros(int((~a.mask).sum())))
    c = load_dataset("synthetic-traffic", seed=1)
    assert not torch.equal(a.values, c.values)


def test_weekday_peaks_are_slower_than_nights():
    d = load_dataset("synthetic-traffic")
    hour = torch.tensor(d.timestamps.hour.to_numpy())
    weekday = torch.tensor(d.timestamps.day_of_week.to_numpy() < 5)
    v, m = d.values[..., 0], d.mask[..., 0]

    def mean(sel):
        return float((v[sel] * m[sel]).sum() / m[sel].sum())

    assert mean(weekday & (hour == 8)) < mean(hour == 3) - 10
