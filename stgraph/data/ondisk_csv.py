"""CSV -> series directory (:mod:`stgraph.data.ondisk`) in chunks of rows: bounded memory.

Two layouts, both sorted by time:

- **wide**: one timestamp column and one column per node (one feature);
- **long**: one row per (timestamp, node) with a ``feature`` and a ``value`` column (tidy), or
  with one column per feature.

A first pass reads only the time (and node / feature) columns: it checks the timestamps,
finds the grid and the node and feature lists. The second pass writes the values through a
:class:`~stgraph.data.ondisk_write.SeriesWriter`. Grid steps without a row are missing (mask
``False``), as are empty cells. Errors name the file, the line (1 = header) and the column.
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from stgraph.data.calendar import infer_freq, parse_freq
from stgraph.data.ondisk import SeriesMeta
from stgraph.data.ondisk_write import SeriesWriter
from stgraph.graph import SensorGraph

#: CSV cells per chunk (rows per chunk = this / columns).
CHUNK_CELLS = 2_000_000
#: cells read as missing in value columns (besides empty ones).
MISSING_TOKENS = ("NA", "N/A", "NaN", "nan", "null")


@dataclass(frozen=True)
class _Source:
    """A CSV file and its time column, for reading and for error messages."""

    path: Path
    time: str
    rows: int | None

    def where(self, line: int, column: str) -> str:
        return f"{self.path}: line {line}, column {column!r}"

    def header(self, need: Sequence[str]) -> list[str]:
        """The header's column names; a missing or duplicate column is an error."""
        with open(self.path, newline="", encoding="utf-8") as f:
            head = next(csv.reader(f), [])
        seen = set()
        for c in head:
            if c in seen:
                raise ValueError(f"{self.path}: line 1: column {c!r} appears twice")
            seen.add(c)
        missing = [c for c in need if c not in seen]
        if missing:
            raise ValueError(
                f"{self.path}: line 1: no column {missing[0]!r} (expected columns "
                f"{list(need)}; the header has {head[:8]}{' ...' if len(head) > 8 else ''})"
            )
        return head

    def chunks(
        self, text: Sequence[str], numeric: Sequence[str] = ()
    ) -> Iterator[tuple[int, pd.DataFrame]]:
        """``(line of the first row, frame)`` for chunks of rows: ``text`` columns as
        strings, ``numeric`` columns parsed (empty cells and :data:`MISSING_TOKENS` NaN)."""
        line = 2
        rows = self.rows or max(1, CHUNK_CELLS // max(len(text) + len(numeric), 1))
        reader = pd.read_csv(
            self.path,
            usecols=[*text, *numeric],
            chunksize=rows,
            dtype=dict.fromkeys(text, str),
            keep_default_na=False,
            na_values={c: ["", *MISSING_TOKENS] for c in numeric},
        )
        for frame in reader:
            yield line, frame
            line += len(frame)

    def times(self, col: pd.Series, line: int) -> np.ndarray:
        """The time column as int64 nanoseconds; empty or unparsable cells are errors."""
        raw = col.astype(str).str.strip()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            ts = pd.to_datetime(raw.where(col.notna() & (raw != "")), errors="coerce")
        bad = np.flatnonzero(ts.isna().to_numpy())
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"{self.where(line + i, self.time)}: {col.iloc[i]!r} is not a timestamp "
                "(expected e.g. 2024-01-01 00:05:00)"
            )
        idx = pd.DatetimeIndex(ts)
        if idx.tz is not None:
            idx = idx.tz_convert("UTC").tz_localize(None)
        return idx.as_unit("ns").asi8

    def numbers(self, frame: pd.DataFrame, columns: Sequence[str], line: int) -> np.ndarray:
        """Parsed columns as float64 (missing cells NaN); a cell that is not a number is an
        error.

        Shapes:
            output: [rows, len(columns)]
        """
        out = np.empty((len(frame), len(columns)))
        for j, c in enumerate(columns):
            s = frame[c]
            num = pd.to_numeric(s, errors="coerce")
            bad = np.flatnonzero(num.isna().to_numpy() & s.notna().to_numpy())
            if bad.size:
                i = int(bad[0])
                raise ValueError(f"{self.where(line + i, c)}: {s.iloc[i]!r} is not a number")
            out[:, j] = num.to_numpy(dtype=np.float64)
        return out


class _Grid:
    """The regular time grid of a file, checked while the first pass streams its times."""

    def __init__(self, src: _Source, strict: bool, freq: str | None) -> None:
        self.src, self.strict, self.freq = src, strict, freq
        self.first: int | None = None
        self.last: int | None = None
        self.sample: list[int] = []

    def add(self, t: np.ndarray, line: int) -> None:
        """Check that ``t`` continues the times seen so far (increasing, or non-decreasing
        for long tables)."""
        prev = np.r_[self.last if self.last is not None else t[0] - 1, t[:-1]]
        bad = np.flatnonzero(t <= prev if self.strict else t < prev)
        if bad.size:
            i = int(bad[0])
            order = "increasing" if self.strict else "non-decreasing (sorted by time)"
            raise ValueError(
                f"{self.src.where(line + i, self.src.time)}: timestamp {pd.Timestamp(t[i])} "
                f"after {pd.Timestamp(prev[i])}; timestamps must be {order}"
            )
        self.first = int(t[0]) if self.first is None else self.first
        self.last = int(t[-1])
        if len(self.sample) < 1000:
            self.sample += np.unique(t).tolist()[:1000]

    def index(self) -> pd.DatetimeIndex:
        """The grid from the first to the last time."""
        if self.first is None or self.last is None:
            raise ValueError(f"{self.src.path}: no data rows")
        off = (
            parse_freq(self.freq)
            if self.freq
            else infer_freq(pd.DatetimeIndex(self.sample), regular=False)
        )
        return pd.date_range(pd.Timestamp(self.first), pd.Timestamp(self.last), freq=off)

    def positions(self, grid: pd.DatetimeIndex, t: np.ndarray, line: int) -> np.ndarray:
        """Grid step of every time; a time off the grid is an error."""
        pos = grid.get_indexer(pd.DatetimeIndex(t))
        bad = np.flatnonzero(pos < 0)
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"{self.src.where(line + i, self.src.time)}: {pd.Timestamp(t[i])} is not on the "
                f"{grid.freqstr} grid starting at {grid[0]}"
            )
        return pos


def _write_steps(w: SeriesWriter, steps: np.ndarray, block: np.ndarray) -> None:
    """Write ``block[k]`` at grid step ``steps[k]`` (increasing, not before the writer's
    position); skipped steps are written as missing.

    Shapes:
        steps: [k], block: [k, N, F]
    """
    if len(steps) == 0:
        return
    jumps = np.flatnonzero(np.diff(steps) > 1) + 1
    for a, b in zip(np.r_[0, jumps], np.r_[jumps, len(steps)], strict=True):
        w.append_missing(int(steps[a]) - w.rows_written)
        w.append(block[a:b])


def convert_wide_csv(
    csv_path: str | Path,
    out: str | Path,
    *,
    time: str = "time",
    freq: str | None = None,
    feature: str = "value",
    unit: str = "",
    name: str | None = None,
    graph: SensorGraph | None = None,
    rows: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Convert a wide CSV (``time`` column + one column per node) to a series directory.

    Args:
        csv_path: the CSV, sorted by strictly increasing time.
        out: the series directory to create.
        time: the timestamp column.
        freq: the grid step; ``None`` infers it from the first 1000 timestamps.
        feature, unit: the one feature's name and unit.
        name: dataset name (default: the file's stem).
        graph: sensor graph over the node columns (in any order; the series takes its order).
        rows: CSV rows per chunk (default: :data:`CHUNK_CELLS` / columns).
        overwrite: replace an existing series directory.

    Shapes:
        output values: [T, N, 1]
    """
    src = _Source(Path(csv_path), time, rows)
    nodes = [c for c in src.header([time]) if c != time]
    if graph is not None:
        if sorted(graph.node_ids) != sorted(nodes):
            raise ValueError(f"{src.path}: the node columns differ from the graph's node ids")
        nodes = list(graph.node_ids)
    grid = _Grid(src, strict=True, freq=freq)
    for line, frame in src.chunks([time]):
        grid.add(src.times(frame[time], line), line)
    index = grid.index()
    meta = SeriesMeta(
        tuple(nodes),
        (feature,),
        str(index[0]),
        index.freqstr,
        name=name or src.path.stem,
        units=(unit,) if unit else (),
    )
    with SeriesWriter(out, meta, len(index), graph=graph, overwrite=overwrite) as w:
        for line, frame in src.chunks([time], nodes):
            steps = grid.positions(index, src.times(frame[time], line), line)
            _write_steps(w, steps, src.numbers(frame, nodes, line)[..., None])
    return Path(out)


def convert_long_csv(
    csv_path: str | Path,
    out: str | Path,
    *,
    time: str = "time",
    node: str = "node",
    feature: str | None = "feature",
    value: str = "value",
    values: Sequence[str] = (),
    nodes: Sequence[str] | None = None,
    freq: str | None = None,
    name: str | None = None,
    graph: SensorGraph | None = None,
    rows: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Convert a long CSV (one row per time and node, sorted by time) to a series directory.

    Tidy layout (default): columns ``time, node, feature, value``. With ``values=[...]``: one
    column per feature (``time, node, speed, flow``) and no ``feature`` column.

    Args:
        csv_path: the CSV, sorted by non-decreasing time.
        out: the series directory to create.
        time, node, feature, value: column names.
        values: feature columns (the second layout).
        nodes: the node ids in series order; a row naming another node is an error.
            ``None``: the graph's ids, else those of the file in order of appearance.
        freq, name, graph, rows, overwrite: as in :func:`convert_wide_csv`.

    Shapes:
        output values: [T, N, F]
    """
    src = _Source(Path(csv_path), time, rows)
    tidy = not values
    keys = [time, node, *([feature] if tidy and feature else [])]
    src.header([*keys, *([value] if tidy else values)])
    fixed = nodes if nodes is not None else (graph.node_ids if graph is not None else None)
    node_ids: dict[str, int] = {} if fixed is None else {str(n): i for i, n in enumerate(fixed)}
    feats: dict[str, int] = {str(f): i for i, f in enumerate(values)}
    grid = _Grid(src, strict=False, freq=freq)
    for line, frame in src.chunks(keys):
        grid.add(src.times(frame[time], line), line)
        _ids(src, frame[node], node_ids, line, grow=fixed is None, what="node")
        if tidy:
            _ids(src, frame[feature], feats, line, grow=True, what="feature")
    index = grid.index()
    meta = SeriesMeta(
        tuple(node_ids), tuple(feats), str(index[0]), index.freqstr, name=name or src.path.stem
    )
    shape = (len(node_ids), len(feats))
    carry: tuple[int, np.ndarray] | None = None  # the last step: more rows may follow
    with SeriesWriter(out, meta, len(index), graph=graph, overwrite=overwrite) as w:
        for line, frame in src.chunks(keys, [value] if tidy else list(values)):
            steps = grid.positions(index, src.times(frame[time], line), line)
            n = _ids(src, frame[node], node_ids, line, grow=False, what="node")
            if tidy:
                f = _ids(src, frame[feature], feats, line, grow=False, what="feature")
                x, f = src.numbers(frame, [value], line), f[:, None]
            else:
                x, f = src.numbers(frame, list(values), line), np.arange(len(values))[None]
            uniq, row = np.unique(steps, return_inverse=True)
            block = np.full((len(uniq), *shape), np.nan)
            seen = np.zeros(block.shape, dtype=bool)
            if carry is not None and carry[0] == uniq[0]:
                block[0], seen[0] = carry[1], np.isfinite(carry[1])
            elif carry is not None:
                _write_steps(w, np.array([carry[0]]), carry[1][None])
            cell = (np.broadcast_to(row[:, None], x.shape), n[:, None].repeat(x.shape[1], 1), f)
            _check_duplicates(src, seen, cell, line)
            block[cell] = x
            _write_steps(w, uniq[:-1], block[:-1])
            carry = (int(uniq[-1]), block[-1])
        if carry is not None:
            _write_steps(w, np.array([carry[0]]), carry[1][None])
    return Path(out)


def _ids(
    src: _Source, col: pd.Series, known: dict[str, int], line: int, grow: bool, what: str
) -> np.ndarray:
    """Index of every id of ``col`` in ``known`` (new ids appended when ``grow``); an unknown
    id is an error naming the line."""
    if grow:
        for v in pd.unique(col.astype(str)):
            known.setdefault(str(v), len(known))
    codes = pd.Index(list(known)).get_indexer(col.astype(str))
    bad = np.flatnonzero(codes < 0)
    if bad.size:
        i = int(bad[0])
        shown = list(known)[:5]
        raise ValueError(
            f"{src.where(line + i, str(col.name))}: unknown {what} {col.iloc[i]!r} (expected one "
            f"of the {len(known)} {what}s: {shown}{' ...' if len(known) > 5 else ''})"
        )
    return codes


def _check_duplicates(
    src: _Source, seen: np.ndarray, cell: tuple[np.ndarray, ...], line: int
) -> None:
    """A (time, node, feature) cell given twice is an error naming the second line."""
    flat = np.ravel_multi_index(tuple(np.ravel(c) for c in np.broadcast_arrays(*cell)), seen.shape)
    first = np.zeros(flat.shape, dtype=bool)
    first[np.unique(flat, return_index=True)[1]] = True
    bad = np.flatnonzero(~first | seen.reshape(-1)[flat])
    if bad.size:
        i = int(bad[0]) // cell[0].shape[1]
        raise ValueError(
            f"{src.path}: line {line + i}: a second value for the same time, node and feature"
        )
    seen.reshape(-1)[flat] = True
