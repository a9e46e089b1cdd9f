"""Series on disk: a directory of ``.npy`` arrays, written in time chunks and memory-mapped.

Layout of a series directory (format version :data:`VERSION`)::

    values.npy       float32 [T, N, F]; 0 where unobserved
    mask.npy         bool [T, N, F]; absent when every entry is observed
    meta.json        node ids, feature names and units, start + freq (or explicit
                     timestamps), optional coordinates + CRS, which optional files exist
    graph.json       the SensorGraph (SensorGraph.to_dict); absent = no edges
    nodes.csv        the node table (optional)
    covariates.npy   user covariates float32 [T, 1 or N, C] (optional)

:class:`~stgraph.data.ondisk_write.SeriesWriter` fills the arrays one time chunk at a time
(``append``) in a temporary directory next to the target and renames it into place when
complete, so a failed or interrupted write never leaves a readable half-series.
:func:`open_series` maps the arrays read-only and returns a
:class:`~stgraph.data.spatiotemporal.SpatioTemporalData` whose ``values`` / ``mask`` are
zero-copy views on them: windows read only the steps a batch needs, and the data pipeline
keeps a bounded amount resident (see :mod:`stgraph.data.chunks`).
CSV converters live in :mod:`stgraph.data.ondisk_csv`.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from stgraph.data.calendar import parse_freq
from stgraph.data.chunks import register_mapped
from stgraph.data.io.registry import register_dataset
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.graph import SensorGraph

FORMAT = "stgraph-series"
VERSION = 1


@dataclass(frozen=True)
class SeriesMeta:
    """What a series directory says about its arrays (``meta.json``).

    Args:
        nodes: node ids in series order (``N``).
        features: feature names (``F``).
        start: first timestamp (ISO text); with ``freq`` it defines a regular index.
        freq: the step (``"5min"``, ``"h"``, ``"MS"``; see
            :func:`stgraph.data.calendar.parse_freq`).
        timestamps: explicit timestamps (ISO text) instead of ``start`` + ``freq``.
        name: dataset name.
        units: one unit per feature (or empty).
        coords: optional ``[N, 2]`` coordinates as ``(lon, lat)`` / ``(x, y)``.
        crs: CRS of ``coords``.
    """

    nodes: tuple[str, ...]
    features: tuple[str, ...] = ("value",)
    start: str | None = None
    freq: str | None = None
    timestamps: tuple[str, ...] | None = None
    name: str = "data"
    units: tuple[str, ...] = ()
    coords: tuple[tuple[float, float], ...] | None = None
    crs: str | None = None

    def __post_init__(self) -> None:
        for key in ("nodes", "features", "units", "timestamps"):
            val = getattr(self, key)
            if val is not None:
                object.__setattr__(self, key, tuple(str(x) for x in val))
        if self.coords is not None:
            object.__setattr__(self, "coords", tuple((float(x), float(y)) for x, y in self.coords))
        if self.timestamps is None and (self.start is None or self.freq is None):
            raise ValueError(f"{self.name}: give start and freq, or explicit timestamps")
        if len(set(self.nodes)) != len(self.nodes) or not self.nodes:
            raise ValueError(f"{self.name}: node ids must be unique and non-empty")

    def time_index(self, num_steps: int) -> pd.DatetimeIndex:
        """The ``T`` timestamps."""
        if self.timestamps is not None:
            return pd.DatetimeIndex(pd.to_datetime(list(self.timestamps)))
        return pd.date_range(self.start, periods=num_steps, freq=parse_freq(str(self.freq)))

    @classmethod
    def of(cls, data: SpatioTemporalData) -> SeriesMeta:
        """The metadata of an in-memory series."""
        g = data.graph
        return cls(
            nodes=g.node_ids,
            features=data.feature_names,
            start=data.timestamps[0].isoformat(),
            freq=data.freq_str,
            name=data.name,
            units=data.units,
            coords=None if g.coords is None else tuple(map(tuple, g.coords.tolist())),
            crs=g.crs,
        )


def is_series_dir(path: str | Path) -> bool:
    """Whether ``path`` is a directory written by :class:`SeriesWriter`."""
    try:
        return json.loads((Path(path) / "meta.json").read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _read_meta(path: Path) -> dict[str, Any]:
    """``meta.json`` of a series directory, checked (format, version, required keys)."""
    file = path / "meta.json"
    if not file.is_file():
        raise FileNotFoundError(f"{path}: not a series directory (no meta.json)")
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ValueError(f"{file}: not valid JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{file}: 'format' must be {FORMAT!r}")
    if doc.get("version") != VERSION:
        raise ValueError(
            f"{file}: format version {doc.get('version')!r}, this reader reads {VERSION}"
        )
    for key in ("num_steps", "nodes", "features"):
        if key not in doc:
            raise ValueError(f"{file}: missing key {key!r}")
    return doc


def _map(file: Path, dtype: type, shape: tuple[int, ...]) -> torch.Tensor:
    """A read-only memory map of ``file`` as a tensor (registered for page release)."""
    arr = np.load(file, mmap_mode="r", allow_pickle=False)
    if arr.dtype != np.dtype(dtype) or arr.shape != shape:
        raise ValueError(f"{file}: {arr.dtype} {arr.shape}, expected {np.dtype(dtype)} {shape}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "not writable": the map is read-only
        t = torch.from_numpy(arr)
    register_mapped(t, arr)
    return t


def open_series(path: str | Path, name: str | None = None) -> SpatioTemporalData:
    """Open a series directory (see the module docs) without reading it into memory.

    ``values`` and ``mask`` are read-only zero-copy views on memory maps (a fully observed
    series gets a stride-0 mask); do not write into them.

    Args:
        path: a directory written by :class:`SeriesWriter` / :func:`write_series` or a
            converter of :mod:`stgraph.data.ondisk_csv`.
        name: dataset name (default: the one stored).

    Shapes:
        values, mask: [T, N, F]
    """
    d = Path(path)
    doc = _read_meta(d)
    known = {f.name for f in SeriesMeta.__dataclass_fields__.values()}
    meta = SeriesMeta(**{k: v for k, v in doc.items() if k in known})
    shape = (int(doc["num_steps"]), len(meta.nodes), len(meta.features))
    values = _map(d / "values.npy", np.float32, shape)
    mask: Any = None if doc.get("observed", False) else _map(d / "mask.npy", np.bool_, shape)
    if doc.get("graph"):
        graph = SensorGraph.from_dict(json.loads((d / "graph.json").read_text(encoding="utf-8")))
    else:
        graph = SensorGraph(
            meta.nodes, np.zeros((2, 0), np.int64), coords=meta.coords, crs=meta.crs, name=meta.name
        )
    nodes = pd.DataFrame()
    if doc.get("node_table"):
        nodes = pd.read_csv(d / "nodes.csv", index_col=0, dtype={"node_id": str})
    cov_names = tuple(doc.get("covariates", ()))
    cov = None
    if cov_names:
        cov = torch.from_numpy(np.load(d / "covariates.npy", allow_pickle=False))
    return SpatioTemporalData(
        values,
        mask,
        meta.time_index(shape[0]),
        graph,
        meta.features,
        nodes,
        cov,
        cov_names,
        name=name or meta.name,
        units=meta.units,
        freq=meta.freq,
    )


def register_series(name: str, path: str | Path, description: str = "") -> None:
    """Register a series directory as dataset ``name``, so that
    :func:`~stgraph.data.load_dataset` and :func:`stgraph.train_run` (in this process) open it.

    Args:
        name: dataset name.
        path: the series directory.
        description: one line for dataset listings.
    """
    where = Path(path)

    @register_dataset(name, description or f"series directory {where}")
    def _load(data_dir: str | Path | None = None, **_: Any) -> SpatioTemporalData:
        return open_series(where, name=name)
