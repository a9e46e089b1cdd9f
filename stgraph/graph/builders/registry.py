"""Graph-builder registry: every way geography becomes a :class:`SensorGraph`, by name.

A builder is a function returning a :class:`~stgraph.graph.SensorGraph`; it registers with
:func:`register_builder` and is called through :func:`build`. The CLI and the tests loop over
:func:`list_builders`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from stgraph.graph.sensor_graph import SensorGraph

Builder = Callable[..., SensorGraph]
B = TypeVar("B", bound=Builder)


@dataclass(frozen=True)
class BuilderEntry:
    """A registered builder: its name, one-line description and function."""

    name: str
    description: str
    fn: Builder


_BUILDERS: dict[str, BuilderEntry] = {}


def register_builder(name: str, description: str) -> Callable[[B], B]:
    """Decorator registering ``fn(...) -> SensorGraph`` under ``name``."""

    def deco(fn: B) -> B:
        if name in _BUILDERS:
            raise ValueError(f"graph builder {name!r} is already registered")
        _BUILDERS[name] = BuilderEntry(name, description, fn)
        return fn

    return deco


def list_builders() -> list[BuilderEntry]:
    """All registered builders, sorted by name."""
    return [_BUILDERS[k] for k in sorted(_BUILDERS)]


def get_builder(name: str) -> BuilderEntry:
    """Registry entry by name; ``KeyError`` lists the known names."""
    try:
        return _BUILDERS[name]
    except KeyError:
        known = ", ".join(sorted(_BUILDERS))
        raise KeyError(f"unknown graph builder {name!r}; known: {known}") from None


def build(kind: str, *args: Any, **kwargs: Any) -> SensorGraph:
    """Build a graph with the registered builder ``kind``: ``build("knn", points, k=8)``.

    Args:
        kind: builder name (see :func:`list_builders`).
        *args, **kwargs: passed to the builder.
    """
    return get_builder(kind).fn(*args, **kwargs)
