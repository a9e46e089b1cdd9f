"""The command line: listings, errors, and a tiny end-to-end train + evaluate."""

from __future__ import annotations

import json

import pytest

from stgraph.cli import main
from stgraph.data import list_datasets
from stgraph.models import list_models


def test_models_and_datasets_print_one_name_per_line(capsys):
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split("\t")[0] for ln in lines] == [m.name for m in list_models()]
    assert all(len(ln.split("\t")) == 2 and ln.split("\t")[1] for ln in lines)
    assert main(["datasets"]) == 0
    names = [ln.split("\t")[0] for ln in capsys.readouterr().out.splitlines()]
    assert names == [d.name for d in list_datasets()] and "synthetic-traffic" in names


def test_unknown_names_and_missing_data_give_clear_errors(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("STGRAPH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert (
        main(["train", "--dataset", "nope", "--model", "dcrnn", "--out", str(tmp_path / "r")]) == 2
    )
    assert "unknown dataset 'nope'" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                "--dataset",
                "los-loop",
                "--model",
                "dcrnn",
                "--out",
                str(tmp_path / "r"),
                "--data-dir",
                str(tmp_path / "empty"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert (
        "los_loop/los_speed.csv not found" in err
        and str(tmp_path / "empty") in err
        and "https://" in err
    )


@pytest.mark.slow
def test_train_then_evaluate_reproduces_metrics(tmp_path, capsys):
    out = tmp_path / "run"
    args = [
        "train",
        "--dataset",
        "synthetic-traffic",
        "--model",
        "gcn-transformer",
        "--epochs",
        "1",
        "--max-batches",
        "2",
        "--horizon",
        "3",
        "--out",
        str(out),
        "--no-progress",
        "--set",
        "dim=16",
        "heads=2",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "historical_average" in printed and "run directory" in printed
    saved = json.loads((out / "metrics.json").read_text())
    assert main(["evaluate", str(out)]) == 0
    again = capsys.readouterr().out
    assert f"{saved['overall']['mae']:.3f}" in again
