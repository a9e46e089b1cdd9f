"""Dataset registry: loaders register by name; each has a card in ``datasets/``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from stgraph._registry import Registry
from stgraph.data.io.cards import DatasetCard, load_card
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


_DATASETS: Registry[DatasetEntry] = Registry("dataset")


def register_dataset(name: str, description: str) -> Callable[[L], L]:
    """Decorator registering ``loader(data_dir=None, **kw) -> SpatioTemporalData``."""

    def deco(fn: L) -> L:
        _DATASETS.add(name, DatasetEntry(name, description, fn))
        return fn

    return deco


def list_datasets() -> list[DatasetEntry]:
    """All registered datasets, sorted by name."""
    return _DATASETS.entries()


def get_dataset(name: str) -> DatasetEntry:
    """Registry entry by name; ``KeyError`` lists the known names. A name that is the path of
    a series directory (:func:`stgraph.data.open_series`) is registered under that path on
    first use, so every process (e.g. each ``--nproc`` worker) can open it by name."""
    if name not in _DATASETS:
        from stgraph.data.ondisk import is_series_dir, register_series

        if is_series_dir(name):
            register_series(name, name)
    return _DATASETS.get(name)


def load_dataset(name: str, data_dir: str | Path | None = None, **kw: Any) -> SpatioTemporalData:
    """Load a registered dataset (files from ``data_dir`` / ``$STGRAPH_DATA`` / the cache)."""
    return get_dataset(name).load(data_dir=data_dir, **kw)
