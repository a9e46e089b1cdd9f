"""Read a pandas ``DataFrame.to_hdf`` file (PyTables "fixed" format) with h5py alone.

DCRNN ships METR-LA as ``metr-la.h5`` (key ``df``) and PEMS-BAY as ``pems-bay.h5`` (key
``speed``), written by ``DataFrame.to_hdf``: a group holding ``axis0`` (column labels),
``axis1`` (the index: int64 counts since the epoch in the unit its ``kind`` attribute names,
``datetime64`` = nanoseconds as in older pandas, ``datetime64[us]`` = microseconds as pandas 3
writes them; a tz-aware index is stored as UTC counts and read as naive UTC) and one
``block{i}_items`` / ``block{i}_values`` pair per dtype block. PyTables is not needed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _labels(raw: np.ndarray) -> list[str]:
    """Column labels as strings (bytes decoded, integers formatted)."""
    return [x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in raw.tolist()]


def _attr(node: Any, name: str, default: str) -> str:
    """A string attribute (bytes decoded)."""
    raw = node.attrs.get(name, default)
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def datetime_index(raw: np.ndarray, kind: str, where: str) -> pd.DatetimeIndex:
    """Epoch counts -> timestamps, in the unit of ``kind`` (``datetime64`` = ns,
    ``datetime64[s|ms|us|ns]``).

    Raises:
        ValueError: ``kind`` is not a datetime kind or ``raw`` is not integer.
    """
    m = re.fullmatch(r"datetime64(?:\[(s|ms|us|ns)\])?", kind.strip())
    if m is None or not np.issubdtype(raw.dtype, np.integer):
        raise ValueError(f"{where} must be a datetime index, got kind {kind!r} ({raw.dtype})")
    return pd.DatetimeIndex(raw.astype(np.int64).view(f"datetime64[{m.group(1) or 'ns'}]"))


def read_pandas_hdf(path: str | Path, key: str | None = None) -> pd.DataFrame:
    """Load one frame with a DatetimeIndex and numeric columns.

    Args:
        path: the ``.h5`` file.
        key: the frame's group; ``None`` = the file's only top-level group.

    Returns:
        Frame indexed by timestamps, one string-labelled column per series.

    Raises:
        ImportError: h5py is not installed.
        ValueError: not HDF5, no/ambiguous key, missing ``axis0``/``axis1``/blocks, a
            non-datetime index or non-numeric blocks.
    """
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a declared dependency of the extra
        raise ImportError("reading .h5 series needs h5py: pip install h5py") from None
    p = Path(path)
    try:
        f = h5py.File(p, "r")
    except OSError as e:
        raise ValueError(f"{p}: not a readable HDF5 file ({e})") from None
    with f:
        groups = [k for k in f.keys() if isinstance(f[k], h5py.Group)]
        if key is None:
            if len(groups) != 1:
                raise ValueError(f"{p}: expected one frame, found groups {groups}; pass key=")
            key = groups[0]
        if key not in groups:
            raise ValueError(f"{p}: no frame {key!r}; found {groups}")
        g = f[key]
        need = ["axis0", "axis1", "block0_items", "block0_values"]
        missing = [k for k in need if k not in g]
        if missing:
            raise ValueError(
                f"{p}:/{key} is not a pandas fixed-format frame (missing {missing}; found "
                f"{sorted(g.keys())})"
            )
        columns = _labels(g["axis0"][()])
        index = datetime_index(
            g["axis1"][()], _attr(g["axis1"], "kind", "datetime64"), f"{p}:/{key}/axis1"
        )
        out = np.full((len(index), len(columns)), np.nan)
        position = {c: i for i, c in enumerate(columns)}
        nblocks = sum(1 for k in g if k.startswith("block") and k.endswith("_values"))
        for b in range(nblocks):
            items = _labels(g[f"block{b}_items"][()])
            vals = g[f"block{b}_values"][()]
            if vals.shape != (len(index), len(items)) or not np.issubdtype(vals.dtype, np.number):
                raise ValueError(
                    f"{p}:/{key}/block{b}_values has shape {vals.shape} and dtype {vals.dtype}; "
                    f"expected numeric ({len(index)}, {len(items)})"
                )
            unknown = [c for c in items if c not in position]
            if unknown:
                raise ValueError(f"{p}:/{key}/block{b}_items lists unknown columns {unknown[:5]}")
            out[:, [position[c] for c in items]] = vals
    return pd.DataFrame(out, index=index, columns=columns)
