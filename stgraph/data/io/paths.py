"""Where real data lives: ``--data-dir``, then ``$STGRAPH_DATA``, then the user cache."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "STGRAPH_DATA"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/stgraph`` (default ``~/.cache/stgraph``): where downloads go."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stgraph"


def data_roots(data_dir: str | Path | None = None) -> list[Path]:
    """Folders searched for dataset files, in order: ``data_dir`` (when given), ``$STGRAPH_DATA``
    (when set) and the download cache."""
    roots: list[Path] = []
    if data_dir is not None:
        roots.append(Path(data_dir).expanduser())
    env = os.environ.get(ENV_VAR)
    if env:
        roots.append(Path(env).expanduser())
    roots.append(default_cache_dir())
    return roots
