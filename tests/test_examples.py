"""The worked examples in ``tools/examples/`` run end to end in their ``--tiny`` mode: a run
directory, the metrics table of the model next to the baselines, the plots and the HTML
report; real-data examples say what to do when their data is missing."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "tools" / "examples"
BASELINES = ("last_value", "historical_average", "seasonal_naive")
#: example -> the run directories it writes (``<dataset>-<model>``), real data or not
CASES = {
    "road_traffic": (("los-loop-dcrnn",), True),
    "weather_stations": (("noaa-weather-stcn",), True),
    "air_quality": (("aqi36-graph-wavenet",), True),
    "sst_grid": (("pacific-sst-convlstm",), True),
    "energy_demand": (("synthetic-energy-stid",), False),
    "finance_panel": (
        ("synthetic-finance-realised_vol-stcn", "synthetic-finance-return-stcn"),
        False,
    ),
}


def _example(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return importlib.import_module(name)


def test_every_example_file_is_tested():
    found = {p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("_")}
    assert found == set(CASES)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_example_runs_and_reports(name, request, monkeypatch, tmp_path, capsys):
    runs, real = CASES[name]
    argv = ["--tiny", "--out", str(tmp_path)]
    if real:
        argv += ["--data-dir", str(request.getfixturevalue("data_root"))]
    assert _example(name, monkeypatch).main(argv) == 0
    printed = capsys.readouterr().out
    for run in runs:
        run_dir = tmp_path / run
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert set(BASELINES) <= set(metrics["baselines"])
        assert metrics["epochs"] == 1 and metrics["split"] == "test"
        model = metrics["model"]
        # the printed table has the model's row and every baseline's, each with numbers
        rows = {ln.split()[0]: ln.split()[1:] for ln in printed.splitlines() if ln.strip()}
        for method in (model, *BASELINES):
            assert method in rows and float(rows[method][-1]) >= 0
        assert f"{run_dir / 'report.html'}" in printed
        for plot in ("forecast.png", "horizon_errors.png"):
            png = run_dir / "plots" / plot
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
        page = (run_dir / "report.html").read_text()
        assert "data:image/png;base64," in page and all(b in page for b in BASELINES)


def test_real_data_example_says_what_to_do_without_data(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("STGRAPH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    empty = tmp_path / "empty"
    empty.mkdir()
    code = _example("road_traffic", monkeypatch).main(
        ["--tiny", "--out", str(tmp_path / "out"), "--data-dir", str(empty)]
    )
    err = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "out").exists()
    assert "los-loop: data not found" in err and "los_loop/" in err
    assert "STGRAPH_DATA" in err and "stgraph datasets download los-loop" in err


def test_examples_refuse_a_non_positive_budget(monkeypatch, capsys):
    with pytest.raises(SystemExit):
        _example("energy_demand", monkeypatch).main(["--budget", "0"])
    assert "--budget must be a positive number of seconds" in capsys.readouterr().err


@pytest.fixture(autouse=True)
def _forget_examples():
    """Each test imports the examples afresh (no module state leaks between tests)."""
    yield
    for name in [*CASES, "_common"]:
        sys.modules.pop(name, None)
