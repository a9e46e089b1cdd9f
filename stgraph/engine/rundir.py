"""Run directories: where a run may be written, and reading its files back safely.

Rules (checked before anything is written):

- a new run goes to ``--out`` or ``runs/<dataset>-<model>-<UTC time>``, the names reduced to
  safe characters so nothing lands outside the chosen folder;
- an existing, non-empty ``--out`` is refused unless ``resume`` (it must hold that run's
  ``config.json`` and ``last.pt``) or ``overwrite`` (it must be a stgraph run directory: only
  the files a run writes are removed; a folder stgraph did not create is never overwritten);
- every file is written to a temporary name and renamed; leftovers of a killed write
  (``.<name>.*.part``) are removed when the folder is opened again.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import torch

from stgraph.engine.config import ConfigError

CONFIG = "config.json"
RUN_FILES = (
    CONFIG,
    "protocol.json",
    "forecaster.json",
    "graph.json",
    "model.pt",
    "best.pt",
    "last.pt",
    "train.log",
    "metrics.json",
)


def safe_name(name: str) -> str:
    """``name`` reduced to ``[A-Za-z0-9._-]`` with no leading dot (``"../x"`` -> ``"_x"``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip(".") or "run"


def default_run_dir(dataset: str, model: str, root: str | Path = "runs") -> Path:
    """``<root>/<dataset>-<model>-<UTC time>`` with safe names."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return Path(root) / f"{safe_name(dataset)}-{safe_name(model)}-{stamp}"


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` holds a stgraph run: a ``config.json`` with a run's sections
    (``dataset``, ``model``, ``protocol``, ``train``), not just any file of that name."""
    try:
        cfg = json.loads((path / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(cfg, dict) and {"dataset", "model", "protocol", "train"} <= set(cfg)


def remove_partial_writes(path: Path) -> list[Path]:
    """Delete temporary files left by an interrupted atomic write; returns what was removed."""
    removed = []
    for p in path.glob(".*.part"):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            removed.append(p)
    return removed


def _check_writable(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".write-test.", suffix=".part", dir=path)
        os.close(fd)
        os.unlink(tmp)
    except FileExistsError:
        raise ConfigError(
            f"run directory {path}: a file is in the way (expected a folder)"
        ) from None
    except OSError as e:
        raise ConfigError(f"run directory {path} is not writable ({e.strerror or e})") from None


def prepare_run_dir(
    out: str | Path | None,
    dataset: str,
    model: str,
    *,
    resume: bool = False,
    overwrite: bool = False,
) -> Path:
    """Check and create the run directory for a new, resumed or overwritten run.

    Args:
        out: the folder (``None`` = :func:`default_run_dir`).
        dataset, model: names used for the default folder.
        resume: continue the run in ``out``.
        overwrite: replace the run in ``out``.

    Raises:
        ConfigError: ``out`` is a file, is not writable, exists without ``resume`` /
            ``overwrite``, or does not hold the run to resume / replace.
    """
    if resume and overwrite:
        raise ConfigError("resume and overwrite exclude each other")
    if out is None:
        if resume:
            raise ConfigError("resume needs the run directory (--out)")
        path = default_run_dir(dataset, model)
    else:
        path = Path(out)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"run directory {path} is a file; expected a folder")
    if resume:
        if not is_run_dir(path):
            raise ConfigError(f"nothing to resume in {path}: no stgraph {CONFIG}")
        if not (path / "last.pt").is_file():
            raise ConfigError(
                f"nothing to resume in {path}: no last.pt (no epoch finished); "
                "start again with --overwrite"
            )
    elif path.is_dir() and any(path.iterdir()):
        if not overwrite:
            raise ConfigError(
                f"run directory {path} already exists; pass --resume to continue that run or "
                "--overwrite to replace it"
            )
        if not is_run_dir(path):
            raise ConfigError(
                f"{path} is not a stgraph run directory (no run {CONFIG}); refusing to overwrite "
                "a folder stgraph did not create: choose another --out"
            )
    _check_writable(path)
    if overwrite:
        for name in RUN_FILES:
            with contextlib.suppress(FileNotFoundError):
                (path / name).unlink()
    remove_partial_writes(path)
    return path


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object, naming the file in every error.

    Raises:
        FileNotFoundError: missing file.
        ValueError: malformed JSON or not an object.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: missing; is this a stgraph run directory?") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e}); the file is damaged") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(obj).__name__}")
    return obj


def load_checkpoint(path: Path) -> Any:
    """``torch.load(path, weights_only=True)`` with errors that name the file.

    Only tensors and plain containers are accepted (never arbitrary pickled objects).

    Raises:
        FileNotFoundError: missing file.
        ValueError: empty, truncated, or holding objects other than tensors.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; is this a finished stgraph run?")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file (the write was interrupted); train the run again")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ValueError(
            f"{path}: holds objects other than tensors, so it was not written by stgraph; "
            "refusing to load it"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as e:
        raise ValueError(
            f"{path}: truncated or not a stgraph checkpoint ({type(e).__name__})"
        ) from None
