"""Reading published graph files safely: DCRNN adjacency pickles, distance tables, id lists.

Pickles are read with :class:`RestrictedUnpickler`, which resolves only the few NumPy
globals an array needs; any other global (the way a malicious pickle runs code) is refused
before it is looked up.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocol-0/2 pickles use it for bytes, latin-1 only."""
    if encoding.replace("-", "").lower() != "latin1":
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # NumPy < 2
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]
    found: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for package in ("numpy.core", "numpy._core"):
        found[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        found[(f"{package}.multiarray", "scalar")] = multiarray.scalar
        if hasattr(numeric, "_frombuffer"):
            found[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer
    return found


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds lists, dicts, strings, numbers and NumPy arrays only.

    Allowed globals: ``numpy.ndarray``, ``numpy.dtype``, NumPy's array reconstructors
    (``multiarray._reconstruct``, ``multiarray.scalar``, ``numeric._frombuffer``, under both
    ``numpy.core`` and ``numpy._core``) and ``_codecs.encode`` restricted to latin-1 (how
    protocol 0/2 pickles store bytes). Anything else raises ``pickle.UnpicklingError``.
    """

    _ALLOWED = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: only NumPy arrays, lists, dicts, "
                "strings and numbers are allowed"
            ) from None


def safe_load_pickle(path: str | Path, encoding: str = "latin1") -> Any:
    """Load a pickle with :class:`RestrictedUnpickler` (``latin1`` reads Python 2 pickles)."""
    with open(path, "rb") as f:
        try:
            return RestrictedUnpickler(f, encoding=encoding).load()
        except pickle.UnpicklingError as e:
            raise pickle.UnpicklingError(f"{path}: {e}") from None


def read_dcrnn_adj_pickle(path: str | Path) -> tuple[list[str], dict[str, int], np.ndarray]:
    """Read a DCRNN ``adj_mx.pkl`` (``[sensor_ids, sensor_id_to_ind, adj_mx]``) safely.

    Args:
        path: the pickle (e.g. ``metr_la_graph/adj_mx.pkl``, ``pems_bay_graph/adj_mx_bay.pkl``).

    Returns:
        ``(ids, id_to_index, adj)`` with ``adj[i, j]`` the weight of ``ids[i] -> ids[j]``.

    Shapes:
        adj: [N, N] float32
    """
    obj = safe_load_pickle(path)
    if not (isinstance(obj, (list, tuple)) and len(obj) == 3):
        raise ValueError(f"{path}: expected [sensor_ids, id_to_index, adj], got {type(obj)}")
    raw_ids, raw_index, adj = obj
    ids = [str(i) for i in raw_ids]
    if not isinstance(raw_index, dict) or not isinstance(adj, np.ndarray):
        raise ValueError(f"{path}: expected a dict and an ndarray as items 2 and 3")
    index = {str(k): int(v) for k, v in raw_index.items()}
    n = len(ids)
    if adj.shape != (n, n):
        raise ValueError(f"{path}: adjacency is {adj.shape} for {n} sensor ids")
    wrong = [i for i, s in enumerate(ids) if index.get(s) != i]
    if wrong or len(index) != n:
        raise ValueError(f"{path}: id_to_index disagrees with the id list (e.g. row {wrong[:1]})")
    return ids, index, np.asarray(adj, dtype=np.float32)


def unique_ids(ids: Sequence[Any], what: str = "node") -> tuple[str, ...]:
    """Ids as strings, checked for duplicates (the error names the id and both positions)."""
    out = tuple(str(i) for i in ids)
    seen: dict[str, int] = {}
    for i, v in enumerate(out):
        if v in seen:
            raise ValueError(f"duplicate {what} id {v!r} at rows {seen[v]} and {i}")
        seen[v] = i
    return out


def read_sensor_ids(path: str | Path) -> list[str]:
    """Read a sensor id list: one per line (``PEMS03.txt``) or comma-separated
    (``graph_sensor_ids.txt``); duplicates are an error."""
    text = Path(path).read_text(encoding="utf-8")
    ids = [t.strip() for t in text.replace(",", "\n").split() if t.strip()]
    try:
        return list(unique_ids(ids, "sensor"))
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def _has_header(path: Path) -> bool:
    with open(path, encoding="utf-8") as f:
        first = f.readline().strip().split(",")
    if len(first) != 3:
        raise ValueError(f"{path}: expected 3 columns (from, to, cost), line 1 has {len(first)}")
    try:
        float(first[2])
    except ValueError:
        return True
    return False


def _row(table: pd.DataFrame, r: int) -> str:
    label = table.index[r]
    return f"line {label}" if table.index.name == "line" else f"row {label!r}"


def check_distance_table(table: pd.DataFrame, source: str = "table") -> pd.DataFrame:
    """Validate a ``from, to, cost`` table: three columns (any names, in that order), costs
    finite and ``>= 0``; endpoints become stripped strings. Errors name the row (the index
    label, or the file line for tables read from CSV).

    Shapes:
        table: [R, 3] -> [R, 3] with columns from (str), to (str), cost (float64)
    """
    if table.shape[1] != 3:
        raise ValueError(f"{source}: expected 3 columns (from, to, cost), got {table.shape[1]}")
    t = table.set_axis(["from", "to", "cost"], axis=1)
    cost = pd.to_numeric(t["cost"], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(cost) | (np.nan_to_num(cost) < 0))
    if bad.size:
        r = int(bad[0])
        raw = t["cost"].iat[r]
        shown = repr(raw) if isinstance(raw, str) else str(raw)
        raise ValueError(f"{source}: {_row(t, r)}: cost {shown} is not a finite number >= 0")
    ends = {c: t[c].astype(str).str.strip() for c in ("from", "to")}
    return pd.DataFrame({"from": ends["from"], "to": ends["to"], "cost": cost}, index=t.index)


def select_known(
    table: pd.DataFrame, ids: Sequence[Any], unknown: str = "error", source: str = "table"
) -> pd.DataFrame:
    """Rows of a checked table whose endpoints are both in ``ids``; a row naming another id
    is an error (``unknown="error"``, naming the row and the id) or dropped (``"drop"``).

    Shapes:
        table: [R, 3] -> [R', 3]
    """
    if unknown not in ("error", "drop"):
        raise ValueError(f"unknown must be 'error' or 'drop', got {unknown!r}")
    known = {str(i) for i in ids}
    outside = (~(table["from"].isin(known) & table["to"].isin(known))).to_numpy()
    if outside.any() and unknown == "error":
        r = int(np.flatnonzero(outside)[0])
        a, b = table["from"].iat[r], table["to"].iat[r]
        raise ValueError(
            f"{source}: {_row(table, r)} names sensor {a if a not in known else b!r}, which is "
            f"not in the id list ({int(outside.sum())} such rows); pass unknown='drop' to "
            "skip them"
        )
    return table[~outside]


def read_distance_table(
    path: str | Path, ids: Sequence[Any] | None = None, *, unknown: str = "error"
) -> pd.DataFrame:
    """Read a ``from, to, cost`` distance/edge table (DCRNN ``distances_*.csv`` without a
    header, ASTGCN/STSGCN ``PEMS0X.csv`` with one).

    Args:
        path: CSV with three columns; a header line is detected and its names ignored.
        ids: known sensor ids; rows naming another id are an error (``unknown="error"``) or
            dropped (``unknown="drop"``, DCRNN's behaviour for ``distances_la_2012.csv``).
        unknown: ``"error"`` or ``"drop"``.

    Returns:
        DataFrame with columns ``from`` (str), ``to`` (str), ``cost`` (float64, finite,
        ``>= 0``) in file order, indexed by file line number (index name ``"line"``).
    """
    p = Path(path)
    header = _has_header(p)
    df = pd.read_csv(p, header=0 if header else None, dtype=str, keep_default_na=False)
    df.index = pd.RangeIndex(2 if header else 1, len(df) + (2 if header else 1), name="line")
    table = check_distance_table(df, str(p))
    return table if ids is None else select_known(table, ids, unknown, str(p))
