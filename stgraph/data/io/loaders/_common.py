"""Small pieces every real-data loader shares: card + files, time index, assembly."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from stgraph.data.io.cards import DatasetCard, load_card, locate_files
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.graph import SensorGraph


def open_card(
    name: str, data_dir: str | Path | None, only: Iterable[str] | None = None
) -> tuple[DatasetCard, dict[str, Path]]:
    """The card of ``name`` and its files (checksums verified), or just the paths in ``only``."""
    card = load_card(name)
    return card, locate_files(card, data_dir, only=only)


def card_index(card: DatasetCard, periods: int) -> pd.DatetimeIndex:
    """Regular time index from the card's ``start`` and ``frequency``."""
    return pd.date_range(card["start"], periods=periods, freq=card["frequency"])


def node_table(
    ids: Iterable[Any], coords: np.ndarray | None = None, **columns: Any
) -> pd.DataFrame:
    """Node table indexed by ``node_id`` with ``lon``/``lat`` (when given) and extra columns.

    Shapes:
        coords: [N, 2] as (lon, lat)
    """
    table = pd.DataFrame(index=pd.Index([str(i) for i in ids], name="node_id"))
    if coords is not None:
        table["lon"], table["lat"] = coords[:, 0], coords[:, 1]
    for key, val in columns.items():
        table[key] = val
    return table


def build_dataset(
    card: DatasetCard,
    values: np.ndarray,
    graph: SensorGraph,
    *,
    mask: np.ndarray | None = None,
    timestamps: pd.DatetimeIndex | None = None,
    nodes: pd.DataFrame | None = None,
    features: Iterable[str] | None = None,
    units: Iterable[str] | None = None,
    **kw: Any,
) -> SpatioTemporalData:
    """Assemble a :class:`SpatioTemporalData` named after ``card`` (features and units from the
    card unless given; timestamps from the card's start and frequency unless given).

    Shapes:
        values, mask: [T, N, F]
    """
    v = torch.from_numpy(np.array(values, dtype=np.float32))  # a writable copy
    m = np.isfinite(values) if mask is None else mask
    return SpatioTemporalData(
        v,
        torch.from_numpy(np.array(m, dtype=bool)),
        card_index(card, v.shape[0]) if timestamps is None else timestamps,
        graph,
        tuple(card["features"] if features is None else features),
        pd.DataFrame() if nodes is None else nodes,
        name=card.name,
        units=tuple(card.get("units", ()) if units is None else units),
        **kw,
    )
