"""Graph-builder registry: every way geography becomes a :class:`SensorGraph`, by name.

A builder is a function returning a :class:`~stgraph.graph.SensorGraph`; it registers with
:func:`register_builder` and is called through :func:`build`. The CLI and the tests loop over
:func:`list_builders`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from stgraph._registry import Registry
from stgraph.graph.sensor_graph import SensorGraph

Builder = Callable[..., SensorGraph]
B = TypeVar("B", bound=Builder)


@dataclass(frozen=True)
class BuilderEntry:
    """A registered builder: its name, one-line description and function."""

    name: str
    description: str
    fn: Builder


_BUILDERS: Registry[BuilderEntry] = Registry("graph builder")


def register_builder(name: str, description: str) -> Callable[[B], B]:
    """Decorator registering ``fn(...) -> SensorGraph`` under ``name``."""

    def deco(fn: B) -> B:
        _BUILDERS.add(name, BuilderEntry(name, description, fn))
        return fn

    return deco


def list_builders() -> list[BuilderEntry]:
    """All registered builders, sorted by name."""
    return _BUILDERS.entries()


def get_builder(name: str) -> BuilderEntry:
    """Registry entry by name; ``KeyError`` lists the known names."""
    return _BUILDERS.get(name)


def build(kind: str, *args: Any, **kwargs: Any) -> SensorGraph:
    """Build a graph with the registered builder ``kind``: ``build("knn", points, k=8)``.

    Args:
        kind: builder name (see :func:`list_builders`).
        *args, **kwargs: passed to the builder.
    """
    return get_builder(kind).fn(*args, **kwargs)
