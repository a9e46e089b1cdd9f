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
        "--monitor",
        "rmse",
        "--ema",
        "0.9",
        "--fit-on",
        "train+val",
        "--set",
        "dim=16",
        "heads=2",
    ]
    assert main(args) == 0
    assert " val_rmse " in (out / "train.log").read_text()  # the flags reached the trainer
    assert json.loads((out / "config.json").read_text())["train"]["fit_on"] == "train+val"
    printed = capsys.readouterr().out
    assert "historical_average" in printed and "run directory" in printed
    saved = json.loads((out / "metrics.json").read_text())
    assert main(["evaluate", str(out)]) == 0
    again = capsys.readouterr().out
    assert f"{saved['overall']['mae']:.3f}" in again


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "stcn", "--epochs", "0"], "train.epochs must be >= 1, got 0"),
        (["--model", "nope"], "unknown model 'nope'"),
        (
            ["--model", "stcn", "--set", "bogus=1"],
            "no hyper-parameter 'bogus'; valid (default): dim=",
        ),
        (["--model", "stcn", "--set", "dim=abc"], "dim='abc' should be int"),
        (["--model", "stcn", "--batch-size", "0"], "train.batch_size must be >= 1"),
        (["--model", "stcn", "--ema", "1.5"], "train.ema must be 0 (off) or in (0, 1)"),
        (["--model", "stcn", "--split-typo"], None),
    ],
)
def test_bad_train_input_leaves_no_folder_and_one_line(
    tmp_path, monkeypatch, capsys, extra, message
):
    monkeypatch.chdir(tmp_path)
    args = ["train", "--dataset", "synthetic-traffic", *extra]
    if message is None:  # an unknown flag: argparse's usage error, exit 2
        with pytest.raises(SystemExit) as info:
            main(args)
        assert info.value.code == 2
    else:
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err
    assert list(tmp_path.iterdir()) == []


def test_dataset_names_never_escape_the_runs_folder(tmp_path, monkeypatch, capsys):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    assert main(["train", "--dataset", "../../x", "--model", "stcn"]) == 2
    assert "unknown dataset '../../x'" in capsys.readouterr().err
    assert [p.name for p in tmp_path.rglob("*")] == ["a", "b"]


def test_models_show_their_hyper_parameters_and_version(capsys):
    assert main(["models"]) == 0
    lines = dict(ln.split("\t") for ln in capsys.readouterr().out.splitlines())
    assert "hidden=64, layers=2, k=2" in lines["dcrnn"] and "dim=32" in lines["stcn"]
    assert "seed sec." not in "".join(lines.values())
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.startswith("stgraph ")


def test_ctrl_c_ends_with_a_hint_not_a_traceback(monkeypatch, capsys):
    import stgraph.engine

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(stgraph.engine, "train_run", interrupted)
    assert main(["train", "--dataset", "synthetic-traffic", "--model", "stcn"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "--resume" in err and "Traceback" not in err


@pytest.mark.slow
def test_config_file_flags_threads_and_resume(tmp_path, capsys):
    import torch

    (tmp_path / "run.toml").write_text(
        'dataset = "synthetic-traffic"\nmodel = "stcn"\n[hparams]\ndim = 8\n'
        "[protocol]\nhorizon = 3\n[train]\nepochs = 1\nmax_batches = 2\nbatch_size = 16\n"
    )
    out = tmp_path / "run"
    before = torch.get_num_threads()
    try:
        args = ["train", "--config", str(tmp_path / "run.toml"), "--lookback", "6"]
        assert main([*args, "--out", str(out), "--no-progress", "--threads", "1"]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    saved = json.loads((out / "config.json").read_text())
    assert saved["protocol"]["lookback"] == 6 and saved["hparams"] == {"dim": 8}
    assert saved["train"]["max_batches"] == 2
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--lookback", "12"]) == 2
    assert "protocol.lookback: 12 (saved run: 6)" in capsys.readouterr().err
    assert json.loads((out / "config.json").read_text()) == saved


def test_set_reads_json_and_python_literals():
    from stgraph.cli import _kv

    got = _kv(["a=32", "b=0.5", "c=true", "d=True", "e=False", "f=None", "g=x", "h=[1, 2]"])
    assert got == {"a": 32, "b": 0.5, "c": True, "d": True, "e": False, "f": None, "g": "x"} | {
        "h": [1, 2]
    }


def test_datasets_lists_an_entry_without_a_card(monkeypatch, capsys):
    import stgraph.data
    from stgraph.data.io.registry import DatasetEntry

    extra = DatasetEntry("/tmp/some-series", "a series directory", lambda **kw: None)
    real = stgraph.data.list_datasets
    monkeypatch.setattr(stgraph.data, "list_datasets", lambda: [*real(), extra])
    assert main(["datasets"]) == 0
    assert "/tmp/some-series\ta series directory [no card]" in capsys.readouterr().out
