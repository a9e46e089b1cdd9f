"""The generated synthetic-energy dataset: deterministic, matches its card, and has the
structure its card claims (temperature-driven load, fronts that travel west to east)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stgraph.data import load_dataset
from stgraph.data.io.cards import load_card
from stgraph.data.io.synthetic_energy import SyntheticEnergyConfig, generate_synthetic_energy

SMALL = {"nodes": 12, "days": 60, "k": 3}


@pytest.fixture(scope="module")
def small():
    """60 winter days at 12 substations, with the temperature covariate."""
    return generate_synthetic_energy(SyntheticEnergyConfig(**SMALL, temperature=True))


def test_default_dataset_matches_its_card_and_is_deterministic():
    a, b = load_dataset("synthetic-energy"), load_dataset("synthetic-energy")
    card = load_card("synthetic-energy")
    assert tuple(a.values.shape) == (card["steps"], card["nodes"], 1)
    assert a.freq_str == card["frequency"] and str(a.timestamps[0]) == card["start"] + ":00"
    assert a.graph.num_edges == 312 and a.graph.crs == "EPSG:4326"
    assert not a.graph.isolated_nodes()
    assert torch.equal(a.values, b.values) and torch.equal(a.mask, b.mask)
    assert 0.004 < a.missing_fraction < 0.015
    assert torch.equal(a.values[~a.mask], torch.zeros(int((~a.mask).sum())))
    assert bool((a.values[a.mask] > 0).all())
    assert not torch.equal(a.values, load_dataset("synthetic-energy", seed=1).values)


def test_winter_demand_rises_as_temperature_falls(small):
    """Heating load: on working days, a substation's daily mean demand is anti-correlated
    with its daily mean temperature."""
    v, m = small.values[..., 0].numpy(), small.mask[..., 0].numpy()
    temp = small.covariates[..., -1].numpy()  # [T, N]
    assert small.covariate_names[-1] == "temperature_anomaly"
    days = v.shape[0] // 24
    shape = (days, 24, -1)
    demand = (v * m).reshape(shape).sum(1) / np.maximum(m.reshape(shape).sum(1), 1)
    t_day = temp.reshape(shape).mean(1)
    workday = small.timestamps[::24].day_of_week < 5
    corr = [np.corrcoef(demand[workday, i], t_day[workday, i])[0, 1] for i in range(v.shape[1])]
    assert np.median(corr) < -0.5, corr


def test_weather_fronts_reach_eastern_substations_later(small):
    """The temperature anomaly at the easternmost substation repeats the westernmost one's
    after (distance east) / front speed hours: day-over-day changes line up at that lag."""
    cfg = SyntheticEnergyConfig(**SMALL)
    lon = small.nodes["lon"].to_numpy()
    west, east = int(np.argmin(lon)), int(np.argmax(lon))
    km = (lon[east] - lon[west]) * 111.32 * np.cos(np.radians(cfg.origin_lonlat[1]))
    expected = km / cfg.front_speed_kmh
    temp = small.covariates[..., -1].numpy()
    change = temp[24:] - temp[:-24]  # removes the daily cycle exactly
    w, e = change[:, west], change[:, east]
    err = [np.mean((e[8:] - w[8 - lag : len(w) - lag]) ** 2) for lag in range(8)]
    assert expected > 1.5
    assert abs(int(np.argmin(err)) - expected) <= 1, (err, expected)
    assert err[int(np.argmin(err))] < 0.2 * err[0]


def test_commercial_substations_drop_on_weekends(small):
    """Commercial load follows opening hours: weekday/weekend midday ratio is larger at the
    most commercial substation than at the most residential one."""
    share = small.nodes["commercial_share"].to_numpy()
    v, m = small.values[..., 0].numpy(), small.mask[..., 0].numpy()
    noon = small.timestamps.hour == 12
    weekday = small.timestamps.day_of_week < 5

    def ratio(i: int) -> float:
        def mean(sel):
            return (v[sel, i] * m[sel, i]).sum() / m[sel, i].sum()

        return mean(noon & weekday) / mean(noon & ~weekday)

    assert ratio(int(np.argmax(share))) > ratio(int(np.argmin(share))) + 0.3


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="nodes must exceed k"):
        generate_synthetic_energy(SyntheticEnergyConfig(nodes=4, k=6))
