"""Runs on data built in memory: saved, reloaded and re-evaluated with the series passed back."""

import numpy as np
import pandas as pd
import pytest

import stgraph
from stgraph.engine import evaluate_run, load_run

STATIONS = pd.DataFrame(
    {"station": list("abcde"), "lon": [116.3, 116.4, 116.5, 116.42, 116.35],
     "lat": [39.9, 39.95, 40.0, 39.8, 39.85]}
)  # fmt: skip


def _series(stations: pd.DataFrame, name: str = "my-stations"):
    times = pd.date_range("2024-03-01", periods=24 * 6, freq="1h")
    wide = pd.DataFrame(
        {
            s: 50 + 20 * np.sin(np.arange(len(times)) / 4 + i)
            for i, s in enumerate(stations.station)
        },
        index=times,
    )
    wide.iloc[10:14, 1] = np.nan  # a gap, masked
    return stgraph.data.from_wide_dataframe(
        wide, stations=stations, station_id="station", graph="knn", k=2, name=name
    )


@pytest.mark.slow
def test_in_memory_run_reloads_only_with_its_series(tmp_path):
    data = _series(STATIONS)
    budget = stgraph.TrainConfig(epochs=1, max_batches=2, batch_size=32, progress=False)
    run = stgraph.train_run(
        "my-stations", "stcn", data=data, out=tmp_path / "run", hparams={"dim": 8}, train=budget
    )
    with pytest.raises(ValueError, match=r"'my-stations'.*not a registered dataset.*data="):
        evaluate_run(run.run_dir)
    again = evaluate_run(run.run_dir, data=data)
    assert again.metrics["overall"]["mae"] == pytest.approx(run.metrics["overall"]["mae"])
    per_step = {h: m["mae"] for h, m in run.metrics["horizons"].items()}
    assert {h: m["mae"] for h, m in again.metrics["horizons"].items()} == pytest.approx(per_step)
    forecaster, reloaded = load_run(run.run_dir, data=data)
    assert reloaded is data and forecaster.config.model == "stcn"
    assert sum(p.numel() for p in forecaster.model.parameters()) == run.metrics["params"]

    fewer = _series(STATIONS.iloc[:4], name="my-stations")
    with pytest.raises(ValueError, match=r"does not fit this model: nodes: unknown \[\], missing"):
        evaluate_run(run.run_dir, data=fewer)
