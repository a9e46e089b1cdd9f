"""Writing series directories (see :mod:`stgraph.data.ondisk`) in time chunks, atomically."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.lib.format import open_memmap

from stgraph._atomic import atomic_write_text
from stgraph.data.chunks import drop_pages, time_chunks
from stgraph.data.ondisk import FORMAT, VERSION, SeriesMeta, is_series_dir
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.graph import SensorGraph

#: bytes per block when :class:`SeriesWriter` writes generated rows (missing, mask).
_BLOCK_BYTES = 32 << 20


class SeriesWriter:
    """Write a ``[T, N, F]`` series into a series directory, one time chunk at a time.

    Use as a context manager: an exception inside the block (or fewer than ``num_steps``
    rows appended) removes the temporary directory and leaves ``path`` untouched.

    Args:
        path: the series directory to create.
        meta: node ids, features, time index (see :class:`SeriesMeta`).
        num_steps: ``T``, the number of rows that will be appended.
        graph: saved as ``graph.json``; its node ids must be ``meta.nodes``.
        node_table: saved as ``nodes.csv`` (index = node ids).
        overwrite: replace an existing series directory (never another folder).

    Shapes:
        append: values, mask [t, N, F]
    """

    def __init__(
        self,
        path: str | Path,
        meta: SeriesMeta,
        num_steps: int,
        *,
        graph: SensorGraph | None = None,
        node_table: pd.DataFrame | None = None,
        overwrite: bool = False,
    ) -> None:
        self.path, self.meta, self.num_steps = Path(path), meta, int(num_steps)
        if self.path.exists() and not (overwrite and is_series_dir(self.path)):
            what = "pass overwrite=True" if is_series_dir(self.path) else "not a series directory"
            raise FileExistsError(f"{self.path} exists ({what})")
        if graph is not None and graph.node_ids != meta.nodes:
            raise ValueError(f"{meta.name}: graph node ids differ from the series' nodes")
        if meta.timestamps is not None and len(meta.timestamps) != self.num_steps:
            raise ValueError(
                f"{meta.name}: {len(meta.timestamps)} timestamps for {num_steps} steps"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=self.path.parent))
        self.shape = (self.num_steps, len(meta.nodes), len(meta.features))
        self._values: np.memmap | None = open_memmap(
            self._tmp / "values.npy", mode="w+", dtype=np.float32, shape=self.shape
        )
        self._mask: np.memmap | None = None
        self._graph, self._node_table = graph, node_table
        self._covariate_names: tuple[str, ...] = ()
        self.rows_written = 0

    def __enter__(self) -> SeriesWriter:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is not None:
            self.abort()
        else:
            self.close()

    def _rows(self, n: int) -> tuple[int, int]:
        """Reserve ``n`` rows; their ``[lo, hi)``."""
        lo, hi = self.rows_written, self.rows_written + n
        if hi > self.num_steps:
            raise ValueError(
                f"{self.meta.name}: appending {n} rows after {lo} exceeds T={self.num_steps}"
            )
        return lo, hi

    def _put(self, target: np.memmap, lo: int, rows: np.ndarray) -> None:
        """Copy ``rows`` into ``target[lo:]`` and unmap the written pages."""
        target[lo : lo + len(rows)] = rows
        step = int(np.prod(self.shape[1:])) * target.itemsize
        drop_pages(target, lo * step, (lo + len(rows)) * step)

    def _ensure_mask(self) -> np.memmap:
        """The mask array, created on the first missing entry (earlier rows observed)."""
        if self._mask is None:
            self._mask = open_memmap(
                self._tmp / "mask.npy", mode="w+", dtype=bool, shape=self.shape
            )
            block = max(1, _BLOCK_BYTES // max(int(np.prod(self.shape[1:])), 1))
            for a in range(0, self.rows_written, block):
                b = min(a + block, self.rows_written)
                self._put(self._mask, a, np.ones((b - a, *self.shape[1:]), dtype=bool))
        return self._mask

    def append(self, values: Any, mask: Any = None) -> None:
        """Append the next ``t`` time steps. Non-finite values and ``mask == False`` entries
        are stored as missing (value 0, mask ``False``).

        Shapes:
            values: [t, N, F]; mask: [t, N, F] (or broadcastable to it), ``None`` = finite
        """
        if self._values is None:
            raise RuntimeError(f"{self.meta.name}: writer is closed")
        v = np.asarray(values, dtype=np.float32)
        if v.ndim != 3 or v.shape[1:] != self.shape[1:]:
            raise ValueError(
                f"{self.meta.name}: chunk shape {v.shape}, expected [t, {self.shape[1]}, "
                f"{self.shape[2]}] (t steps x nodes x features)"
            )
        lo, hi = self._rows(len(v))
        ok = np.isfinite(v)
        if mask is not None:
            ok &= np.broadcast_to(np.asarray(mask, dtype=bool), v.shape)
        if self._mask is not None or not ok.all():
            v = np.where(ok, v, np.float32(0))
            self._put(self._ensure_mask(), lo, ok)
        self._put(self._values, lo, v)
        self.rows_written = hi

    def append_missing(self, n: int) -> None:
        """Append ``n`` time steps with no observation (a gap in the source)."""
        block = max(1, _BLOCK_BYTES // (4 * max(int(np.prod(self.shape[1:])), 1)))
        for a in range(0, n, block):
            k = min(block, n - a)
            self.append(np.zeros((k, *self.shape[1:]), np.float32), np.zeros(1, dtype=bool))

    def set_covariates(self, covariates: np.ndarray, names: Sequence[str]) -> None:
        """Store user covariates (known-in-advance inputs) with the series.

        Shapes:
            covariates: [T, 1 or N, C]
        """
        cov = np.asarray(covariates, dtype=np.float32)
        if cov.ndim != 3 or cov.shape[0] != self.num_steps or cov.shape[2] != len(names):
            raise ValueError(f"{self.meta.name}: covariates must be [T, 1 or N, {len(names)}]")
        np.save(self._tmp / "covariates.npy", cov, allow_pickle=False)
        self._covariate_names = tuple(names)

    def close(self) -> Path:
        """Finish: check that every row was written, write the metadata and rename the
        temporary directory onto ``path``. Returns ``path``."""
        if self._values is None:
            return self.path
        try:
            if self.rows_written != self.num_steps:
                raise ValueError(
                    f"{self.meta.name}: wrote {self.rows_written} of {self.num_steps} time steps"
                )
            for arr in (self._values, self._mask):
                if arr is not None:
                    arr.flush()
            self._values = self._mask = None
            self._write_side_files()
            _replace_dir(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        return self.path

    def _write_side_files(self) -> None:
        d = self._tmp
        if self._graph is not None:
            atomic_write_text(d / "graph.json", json.dumps(self._graph.to_dict()) + "\n")
        if self._node_table is not None:
            self._node_table.rename_axis("node_id").to_csv(d / "nodes.csv")
        doc = {"format": FORMAT, "version": VERSION, "num_steps": self.num_steps}
        doc |= {k: v for k, v in asdict(self.meta).items() if v is not None}
        doc |= {
            "observed": not (d / "mask.npy").exists(),
            "graph": self._graph is not None,
            "node_table": self._node_table is not None,
            "covariates": list(self._covariate_names),
        }
        atomic_write_text(d / "meta.json", json.dumps(doc, indent=1) + "\n")

    def abort(self) -> None:
        """Drop everything written so far (``path`` is left as it was)."""
        self._values = self._mask = None
        shutil.rmtree(self._tmp, ignore_errors=True)


def _replace_dir(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` onto ``target``; an existing ``target`` is moved aside first and removed
    after the swap."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
        os.replace(target, old / "series")
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_series(
    source: SpatioTemporalData | np.ndarray,
    path: str | Path,
    *,
    meta: SeriesMeta | None = None,
    mask: np.ndarray | None = None,
    graph: SensorGraph | None = None,
    rows: int = 4096,
    overwrite: bool = False,
) -> Path:
    """Write an in-memory series (a :class:`SpatioTemporalData`, or an array with ``meta``)
    to a series directory in chunks of ``rows`` time steps. User covariates and the node
    table of a ``SpatioTemporalData`` are kept; calendar covariates are derived again on
    reading.

    Args:
        source: the series.
        path: the directory to create.
        meta: required for an array source (ignored for a ``SpatioTemporalData``).
        mask: for an array source: ``True`` where observed (``None`` = finite values).
        graph: for an array source: the sensor graph (``None`` = no edges).
        rows: time steps per chunk.
        overwrite: replace an existing series directory.

    Shapes:
        source: [T, N, F] (array) ; mask: [T, N, F]
    """
    if not isinstance(source, SpatioTemporalData):
        if meta is None:
            raise ValueError("write_series: an array source needs meta=SeriesMeta(...)")
        v = torch.from_numpy(np.asarray(source, dtype=np.float32))
        m = None if mask is None else torch.from_numpy(np.asarray(mask, dtype=bool))
        with SeriesWriter(path, meta, len(v), graph=graph, overwrite=overwrite) as w:
            for _, chunk in time_chunks(*(v,) if m is None else (v, m), rows=rows):
                w.append(*(c.numpy() for c in chunk))
        return Path(path)
    if source.temporal_edges is not None:
        raise ValueError(f"{source.name}: time-varying edges are not stored on disk")
    with SeriesWriter(
        path,
        SeriesMeta.of(source),
        source.num_steps,
        graph=source.graph,
        node_table=source.nodes if len(source.nodes.columns) else None,
        overwrite=overwrite,
    ) as w:
        for _, (v, m) in time_chunks(source.values, source.mask, rows=rows):
            w.append(v.numpy(), m.numpy())
        if source.covariates is not None and source.covariate_names[2:]:
            w.set_covariates(source.covariates[..., 2:].numpy(), source.covariate_names[2:])
    return Path(path)
