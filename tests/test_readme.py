"""The README's self-contained code blocks run as written (a reader copies them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _block(marker: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    found = [b for b in blocks if marker in b]
    assert len(found) == 1, f"expected one README python block containing {marker!r}"
    return found[0]


@pytest.mark.parametrize(
    ("marker", "check"),
    [
        ("from stgraph.nn import ChebConv", lambda ns: tuple(ns["y"].shape) == (8, 1, 5, 1)),
        ("from stgraph.graph import build", lambda ns: ns["g"].num_nodes == 4),
    ],
)
def test_readme_block_runs(marker, check):
    namespace: dict = {}
    exec(compile(_block(marker), str(README), "exec"), namespace)
    assert check(namespace)
