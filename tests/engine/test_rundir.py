"""Run directories: never outside the chosen folder, never over a user's files, no leftovers
of a killed write, and checkpoints read safely."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from stgraph.engine import ConfigError
from stgraph.engine.rundir import default_run_dir, load_checkpoint, prepare_run_dir, read_json

RUN_CONFIG = {"dataset": "d", "model": "m", "protocol": {}, "train": {}}


def _run_folder(path):
    path.mkdir()
    (path / "config.json").write_text(json.dumps(RUN_CONFIG))
    (path / "best.pt").write_bytes(b"old")
    return path


def test_existing_folders_need_resume_or_overwrite(tmp_path):
    run = _run_folder(tmp_path / "run")
    with pytest.raises(ConfigError, match=r"already exists; pass --resume .* or --overwrite"):
        prepare_run_dir(run, "d", "m")
    assert prepare_run_dir(run, "d", "m", overwrite=True) == run
    assert not (run / "best.pt").exists() and not (run / "config.json").exists()


def test_overwrite_never_touches_a_folder_stgraph_did_not_create(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"my": "settings"}')
    with pytest.raises(ConfigError, match=r"not a stgraph run directory"):
        prepare_run_dir(mine, "d", "m", overwrite=True)
    assert (mine / "config.json").read_text() == '{"my": "settings"}'


def test_files_and_unwritable_places_are_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"is a file; expected a folder"):
        prepare_run_dir(tmp_path / "file", "d", "m")
    with pytest.raises(ConfigError, match=r"not writable|file is in the way"):
        prepare_run_dir(tmp_path / "file" / "run", "d", "m")
    with pytest.raises(ConfigError, match=r"nothing to resume"):
        prepare_run_dir(tmp_path / "none", "d", "m", resume=True)


def test_default_folder_stays_under_runs():
    path = default_run_dir("../../etc", "a/b")
    assert path.parts[0] == "runs" and ".." not in path.parts and len(path.parts) == 2


def test_leftovers_of_a_killed_write_are_removed(tmp_path):
    run = _run_folder(tmp_path / "run")
    torch.save({}, run / "last.pt")
    (run / ".last.pt.abc123.part").write_bytes(b"half")
    prepare_run_dir(run, "d", "m", resume=True)
    assert not list(run.glob("*.part")) and not list(run.glob(".*.part"))


class _Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_checkpoints_are_read_safely(tmp_path, capsys):
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.pt: empty file"):
        load_checkpoint(tmp_path / "empty.pt")
    torch.save({"w": torch.ones(1000)}, tmp_path / "full.pt")
    raw = (tmp_path / "full.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"cut.pt: truncated or not a stgraph checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")
    with (tmp_path / "evil.pt").open("wb") as f:
        pickle.dump({"w": _Payload()}, f, protocol=2)
    with pytest.raises(ValueError, match=r"evil.pt: .*refusing") as info:
        load_checkpoint(tmp_path / "evil.pt")
    assert "weights_only=False" not in str(info.value)
    assert "this must never run" not in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match=r"nope.pt: missing"):
        load_checkpoint(tmp_path / "nope.pt")


def test_damaged_json_names_the_file(tmp_path):
    (tmp_path / "protocol.json").write_text('{"lookback": 12,')
    with pytest.raises(ValueError, match=r"protocol.json: not valid JSON"):
        read_json(tmp_path / "protocol.json")
