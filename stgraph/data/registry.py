"""Dataset registry: loaders register by name; each has a card in ``datasets/``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from stgraph.data.cards import DatasetCard, load_card
from stgraph.data.spatiotemporal import SpatioTemporalData

Loader = Callable[..., SpatioTemporalData]
L = TypeVar("L", bound=Loader)


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset: name, one-line description, loader and card."""

    name: str
    description: str
    load: Loader

    @property
    def card(self) -> DatasetCard:
        """The dataset card."""
        return load_card(self.name)


_DATASETS: dict[str, DatasetEntry] = {}


def register_dataset(name: str, description: str) -> Callable[[L], L]:
    """Decorator registering ``loader(data_dir=None, **kw) -> SpatioTemporalData``."""

    def deco(fn: L) -> L:
        if name in _DATASETS:
            raise ValueError(f"dataset {name!r} is already registered")
        _DATASETS[name] = DatasetEntry(name, description, fn)
        return fn

    return deco


def list_datasets() -> list[DatasetEntry]:
    """All registered datasets, sorted by name."""
    return [_DATASETS[k] for k in sorted(_DATASETS)]


def get_dataset(name: str) -> DatasetEntry:
    """Registry entry by name; ``KeyError`` lists the known names."""
    try:
        return _DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(_DATASETS))}") from None


def load_dataset(name: str, data_dir: str | Path | None = None, **kw: Any) -> SpatioTemporalData:
    """Load a registered dataset (files from ``data_dir`` / ``$STGRAPH_DATA`` / the cache)."""
    return get_dataset(name).load(data_dir=data_dir, **kw)
