"""Reading helpers shared by every loader: CSV, whitespace tables, JSON and npz files.

Each helper turns a malformed file into a ``ValueError`` that names the file, the row/column
or key, and what was expected — never a crash deep inside pandas or NumPy.
"""

from __future__ import annotations

import json
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

_PANDAS_ERRORS = (
    pd.errors.EmptyDataError,
    pd.errors.ParserError,
    UnicodeDecodeError,
    ValueError,
    OverflowError,
    IndexError,
)


def read_csv(
    path: str | Path,
    *,
    header: bool = True,
    sep: str = ",",
    columns: Iterable[str] = (),
    comment: str | None = None,
) -> pd.DataFrame:
    """Read a delimited text file as strings (no type guessing, no NA guessing).

    Args:
        path: the file.
        header: whether the first row holds column names (else columns are 0..C-1).
        sep: delimiter (``r"\\s+"`` for whitespace-separated tables).
        columns: columns that must be present (checked when ``header``).
        comment: comment character, if any.

    Returns:
        A frame of ``str`` cells (empty cells are ``""``) with stripped column names.

    Raises:
        ValueError: empty or unparsable file, or a required column missing.
    """
    p = Path(path)
    try:
        df = pd.read_csv(
            p,
            header=0 if header else None,
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            comment=comment,
            engine="python" if sep not in (",", r"\s+") else "c",
        )
    except _PANDAS_ERRORS as e:
        raise ValueError(f"{p}: cannot parse as a table ({type(e).__name__}: {e})") from None
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise ValueError(f"{p}: no data rows")
    if header:
        df.columns = [str(c).strip() for c in df.columns]
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ValueError(f"{p}: missing column(s) {missing}; found {list(df.columns)[:20]}")
    return df


def to_numeric(
    df: pd.DataFrame,
    path: str | Path,
    *,
    missing: Sequence[str] = ("",),
    first_row: int = 1,
) -> np.ndarray:
    """Convert a string frame (from :func:`read_csv`) to float64, cell by cell.

    Args:
        df: string cells.
        path: the file (for messages).
        missing: cell texts meaning "missing" (become NaN); anything else must be a number.
        first_row: file line number of ``df``'s first row (for messages).

    Shapes:
        output: [rows, cols] float64 (NaN where missing)

    Raises:
        ValueError: naming the first cell that is neither a number nor a missing token.
    """
    stripped = df.apply(lambda c: c.astype(str).str.strip())
    num = stripped.apply(pd.to_numeric, errors="coerce")
    num[stripped.isin(list(missing))] = np.nan
    bad = ~np.isfinite(num.to_numpy(dtype=np.float64)) & ~stripped.isin(list(missing)).to_numpy()
    if bad.any():
        r, c = np.argwhere(bad)[0]
        col = df.columns[c]
        where = f"column {col!r}" if isinstance(col, str) else f"field {c + 1}"
        raise ValueError(
            f"{path}: line {r + first_row}, {where}: {df.iat[r, c]!r} is not a "
            f"finite number (missing values must be one of {list(missing)})"
        )
    return num.to_numpy(dtype=np.float64)


def read_numeric_csv(
    path: str | Path,
    *,
    numeric: Sequence[str] | None = None,
    header: bool = True,
    sep: str = ",",
    missing: Sequence[str] = ("",),
) -> pd.DataFrame:
    """Read a table whose ``numeric`` columns (``None`` = all) are parsed as float64 by the
    fast C parser; other columns stay text. Any cell that is neither a finite number nor a
    ``missing`` token is reported by :func:`to_numeric` (file, line, column, text).

    Returns:
        The frame (NaN where missing; column names stripped when ``header``).
    """
    p = Path(path)
    kw: dict[str, Any] = dict(
        header=0 if header else None, sep=sep, keep_default_na=False, na_values=list(missing)
    )
    if sep not in (",", r"\s+"):
        kw["engine"] = "python"
    try:
        dtype: Any = np.float64
        if numeric is not None:
            dtype = defaultdict(lambda: str, dict.fromkeys(numeric, np.float64))
        df = pd.read_csv(p, dtype=dtype, **kw)
        if header:
            df.columns = [str(c).strip() for c in df.columns]
        absent = [c for c in numeric or () if c not in df.columns]
        if absent:
            raise ValueError(f"{p}: missing column(s) {absent}; found {list(df.columns)[:20]}")
        values = df.to_numpy(dtype=np.float64) if numeric is None else df[list(numeric)].to_numpy()
        if np.isinf(values).any() or df.shape[0] == 0:
            raise ValueError("non-finite value or no rows")
    except ValueError as e:
        if str(p) in str(e):
            raise
        text = read_csv(p, header=header, sep=sep, columns=numeric or ())
        to_numeric(
            text if numeric is None else text[list(numeric)],
            p,
            missing=missing,
            first_row=2 if header else 1,
        )
        raise ValueError(f"{p}: cannot read as numbers ({e})") from None
    except _PANDAS_ERRORS as e:
        raise ValueError(f"{p}: cannot parse as a table ({type(e).__name__}: {e})") from None
    return df


def read_numeric_matrix(
    path: str | Path, *, header: bool, sep: str = ",", missing: Sequence[str] = ("",)
) -> tuple[list[str] | None, np.ndarray]:
    """Read a numeric matrix file (CSV or whitespace table) with clear errors.

    Args:
        path: the file.
        header: whether the first row holds column ids.
        sep: delimiter.
        missing: cell texts meaning "missing" (NaN).

    Returns:
        ``(column ids or None, values)``.

    Shapes:
        values: [rows, cols] float64
    """
    df = read_numeric_csv(path, header=header, sep=sep, missing=missing)
    ids = [str(c) for c in df.columns] if header else None
    return ids, df.to_numpy(dtype=np.float64, copy=True)


def read_json(path: str | Path) -> Any:
    """Parse a JSON file; syntax errors name the line and column.

    Raises:
        ValueError: empty file, invalid UTF-8 or invalid JSON.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{p}: not UTF-8 text ({e})") from None
    if not text.strip():
        raise ValueError(f"{p}: empty file, expected JSON")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(
            f"{p}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
        ) from None
    except RecursionError:
        raise ValueError(f"{p}: JSON nested too deeply") from None


def json_field(obj: Any, key: str, path: str | Path, kind: type | tuple[type, ...]) -> Any:
    """``obj[key]`` checked to be an instance of ``kind``.

    Raises:
        ValueError: ``obj`` is not an object, ``key`` is absent or has the wrong type.
    """
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(obj).__name__}")
    if key not in obj:
        raise ValueError(f"{path}: missing key {key!r}; found {sorted(obj)[:20]}")
    val = obj[key]
    if not isinstance(val, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ValueError(f"{path}: {key!r} must be a {names}, got {type(val).__name__}")
    return val


def as_array(
    value: Any,
    what: str,
    *,
    ndim: int,
    dtype: type = np.float64,
    shape: tuple[int | None, ...] = (),
) -> np.ndarray:
    """A nested list as a numeric array of a known rank (and optionally shape).

    Args:
        value: nested lists of numbers.
        what: label for messages (e.g. ``"chickenpox.json: FX"``).
        ndim: required number of dimensions.
        dtype: target dtype (integers must be whole numbers).
        shape: required sizes per dimension (``None`` = any).

    Raises:
        ValueError: ragged lists, non-numbers, wrong rank or shape, non-integral indices.
    """
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{what}: expected a rectangular array of numbers") from None
    if a.ndim != ndim:
        raise ValueError(f"{what}: expected {ndim} dimensions, got shape {a.shape}")
    for i, (got, want) in enumerate(zip(a.shape, shape, strict=False)):
        if want is not None and got != want:
            raise ValueError(f"{what}: dimension {i} has size {got}, expected {want}")
    if np.issubdtype(dtype, np.integer):
        if not np.isfinite(a).all() or (a != np.round(a)).any():
            raise ValueError(f"{what}: expected whole numbers")
        if a.size and np.abs(a).max() >= 2**53:
            raise ValueError(f"{what}: integer out of range")
    return a.astype(dtype)


def read_npz(path: str | Path, keys: Sequence[str]) -> dict[str, np.ndarray]:
    """Load named arrays from an ``.npz`` file without ever unpickling.

    Raises:
        ValueError: not a valid npz archive, a key missing, or an object array.
    """
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as z:
            missing = [k for k in keys if k not in z.files]
            if missing:
                raise ValueError(f"{p}: missing array(s) {missing}; found {z.files}")
            return {k: z[k] for k in keys}
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise ValueError(f"{p}: not a readable .npz archive ({e})") from None
    except ValueError as e:
        if str(p) in str(e):
            raise
        raise ValueError(f"{p}: cannot read ({e})") from None
