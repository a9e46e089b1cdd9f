"""Reading a run's settings file (``--config run.toml`` or a saved ``config.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tomllib

from stgraph.engine.config import ConfigError


def read_settings(path: str | Path) -> dict[str, Any]:
    """Parse a TOML (``.toml``) or JSON (anything else) settings file.

    Raises:
        ConfigError: the file is missing, unreadable or malformed (named, with the parser's
            line/column).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot be read ({e})") from None
    try:
        data = tomllib.loads(text) if p.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(
            f"{p}: not valid {'TOML' if p.suffix == '.toml' else 'JSON'} ({e})"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a table of settings, got {type(data).__name__}")
    return data
