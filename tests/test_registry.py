"""The generic registry behind models, datasets and graph builders."""

from __future__ import annotations

import pytest

from stgraph._registry import Registry


def test_registry_rejects_duplicates_and_names_unknown_entries():
    r: Registry[int] = Registry("widget")
    r.add("b", 2)
    r.add("a", 1)
    assert r.entries() == [1, 2] and "a" in r and "c" not in r
    with pytest.raises(ValueError, match="widget 'a' is already registered"):
        r.add("a", 3)
    with pytest.raises(KeyError, match="unknown widget 'c'; known: a, b"):
        r.get("c")
