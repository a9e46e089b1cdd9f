"""One generic name -> entry registry behind the model, dataset and graph-builder registries."""

from __future__ import annotations

from typing import Generic, TypeVar

E = TypeVar("E")


class Registry(Generic[E]):
    """Entries by unique name.

    Args:
        kind: what is registered (used in error messages, e.g. ``"model"``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, E] = {}

    def add(self, name: str, entry: E) -> None:
        """Register ``entry``; ``ValueError`` when ``name`` is taken."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry

    def get(self, name: str) -> E:
        """Entry by name; ``KeyError`` lists the known names."""
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries))
            raise KeyError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def entries(self) -> list[E]:
        """All entries, sorted by name."""
        return [self._entries[k] for k in sorted(self._entries)]

    def __contains__(self, name: object) -> bool:
        return name in self._entries
