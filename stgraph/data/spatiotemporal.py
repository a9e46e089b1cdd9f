"""``SpatioTemporalData``: the one data model every loader returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from stgraph.data.calendar import (
    CALENDAR_NAMES,
    calendar_features,
    check_regular,
    infer_freq,
    parse_freq,
    steps_per_day,
)
from stgraph.data.chunks import count_true, time_chunks
from stgraph.data.temporal_edges import TemporalEdges
from stgraph.graph import SensorGraph


def _as_tensor(a: Any, dtype: torch.dtype) -> Tensor:
    t = a if isinstance(a, Tensor) else torch.from_numpy(np.ascontiguousarray(a))
    return t.to(dtype).contiguous()


def _scan(values: Tensor, mask: Tensor | None) -> tuple[bool, bool]:
    """``(observed, clean)`` in time chunks: every entry finite and unmasked; every entry
    finite and 0 wherever masked (a clean series is used as given, without copies).

    Shapes:
        values, mask: [T, N, F]
    """
    observed = True
    tensors = (values,) if mask is None else (values, mask)
    for _, chunk in time_chunks(*tensors):
        if not bool(torch.isfinite(chunk[0]).all()):
            return False, False
        if mask is not None and observed:
            observed = bool(chunk[1].all())
        if not observed and bool(((chunk[0] != 0) & ~chunk[1]).any()):
            return False, False
    return observed, True


@dataclass(frozen=True, eq=False)
class SpatioTemporalData:
    """A regularly sampled multivariate series on a sensor graph.

    Regular means one step of ``freq`` between consecutive timestamps: a fixed step
    (``"5min"``, ``"D"``), a week (``"W-MON"``) or a calendar month, quarter or year
    (``"MS"``, ``"QS"``, ``"YS"``; see :mod:`stgraph.data.calendar`).

    Missing values are encoded as ``values == 0`` with ``mask == False``; they are never
    filled silently. A fully observed float32 series is not copied (``values`` shares the
    given array's memory) and its ``mask`` is a read-only stride-0 view of one ``True``, so
    the data holds about the bytes of the raw ``[T, N, F]`` array. A clean series (finite
    float32 values, 0 wherever the given mask is ``False``) keeps the given values and mask
    without copies either; the checks run over time chunks, so a memory-mapped series
    (:func:`stgraph.data.open_series`) is never read into memory as a whole. Calendar
    covariates (time of day, day of week) are derived from the timestamps unless
    ``covariates`` are given explicitly.

    Args:
        values: observations; non-finite entries are treated as missing.
        mask: ``True`` where observed; ``None`` = observed wherever ``values`` is finite.
        timestamps: regular time index of length ``T``.
        graph: the sensor graph; its node order is the series' node order.
        feature_names: one name per feature.
        nodes: node table indexed by node id (e.g. coordinates, names); defaults to the
            graph's ids and coordinates.
        covariates: known-in-advance exogenous inputs. The two calendar channels
            (:data:`~stgraph.data.calendar.CALENDAR_NAMES`: time-of-day fraction, day of week)
            always come first and are derived from ``timestamps`` when the given names do not
            start with them; user channels follow.
        covariate_names: one name per given covariate channel.
        name: dataset name.
        units: units of each feature (free text).
        temporal_edges: optional per-time-step edges for graphs whose links change over time
            (:class:`~stgraph.data.temporal_edges.TemporalEdges`); ``graph`` stays the static
            graph (node ids, coordinates) used by models that take one graph. Windows carry the
            edges of their last input step.
        freq: the step: a pandas offset or a string (``"5min"``, ``"MS"``...; see
            :func:`~stgraph.data.calendar.parse_freq`). ``None`` infers it from
            ``timestamps`` (:func:`~stgraph.data.calendar.infer_freq`); after construction
            it is always a pandas offset, and ``timestamps[-1] + freq`` is the next step.

    Shapes:
        values, mask: [T, N, F]
        covariates: [T, 1, C] (shared by all nodes) or [T, N, C]
    """

    values: Tensor
    mask: Tensor
    timestamps: pd.DatetimeIndex
    graph: SensorGraph
    feature_names: tuple[str, ...] = ("value",)
    nodes: pd.DataFrame = field(default_factory=pd.DataFrame)
    covariates: Tensor | None = None
    covariate_names: tuple[str, ...] = ()
    name: str = "data"
    units: tuple[str, ...] = ()
    temporal_edges: TemporalEdges | None = None
    freq: pd.DateOffset = None

    def __post_init__(self) -> None:
        v = _as_tensor(self.values, torch.float32)
        if v.dim() != 3:
            raise ValueError(f"{self.name}: values must be [T, N, F], got shape {tuple(v.shape)}")
        m = None if self.mask is None else _as_tensor(self.mask, torch.bool)
        if m is not None and m.shape != v.shape:
            try:
                m = m.expand(v.shape)  # a mask that broadcasts, e.g. [T, N, 1]
            except RuntimeError:
                raise ValueError(
                    f"{self.name}: mask shape {tuple(m.shape)} != values shape {tuple(v.shape)}"
                ) from None
        observed, clean = _scan(v, m)
        if observed:  # fully observed: no copy of the values, a stride-0 mask
            m = torch.ones((), dtype=torch.bool).expand(v.shape)
        elif not clean:
            finite = torch.isfinite(v)
            m = finite if m is None else m & finite
            v = torch.where(m, v, torch.zeros((), dtype=v.dtype))
        t, n, f = v.shape
        ts = pd.DatetimeIndex(self.timestamps)
        if len(ts) != t:
            raise ValueError(f"{self.name}: {len(ts)} timestamps for {t} time steps")
        off = self._resolve_freq(ts)
        if self.graph.num_nodes != n:
            raise ValueError(
                f"{self.name}: graph has {self.graph.num_nodes} nodes, values have {n}"
            )
        names = tuple(self.feature_names)
        if names == ("value",) and f > 1:
            names = tuple(f"f{i}" for i in range(f))
        if len(names) != f:
            raise ValueError(f"{self.name}: {len(names)} feature names for {f} features")
        nodes = self.nodes
        if nodes is None or len(nodes) == 0:
            nodes = pd.DataFrame(index=pd.Index(self.graph.node_ids, name="node_id"))
            if self.graph.coords is not None:
                nodes["x"], nodes["y"] = self.graph.coords[:, 0], self.graph.coords[:, 1]
        elif [str(i) for i in nodes.index] != list(self.graph.node_ids):
            raise ValueError(f"{self.name}: node table index does not match graph.node_ids order")
        te = self.temporal_edges
        if te is not None and (te.num_steps != t or te.num_nodes != n):
            raise ValueError(
                f"{self.name}: temporal_edges cover {te.num_steps} steps x {te.num_nodes} nodes, "
                f"values have {t} x {n}"
            )
        cov_t, cov_names = self._covariates(ts, n)
        for key, val in (
            ("values", v),
            ("mask", m),
            ("timestamps", ts),
            ("feature_names", names),
            ("nodes", nodes),
            ("covariates", cov_t),
            ("covariate_names", cov_names),
            ("freq", off),
        ):
            object.__setattr__(self, key, val)

    def _resolve_freq(self, ts: pd.DatetimeIndex) -> pd.DateOffset:
        """The given frequency checked against ``ts``, or the one inferred from ``ts``."""
        try:
            if self.freq is None:
                if len(ts) < 2:
                    raise ValueError("a single time step has no frequency; pass freq=")
                return infer_freq(ts)
            off = parse_freq(self.freq)
            check_regular(ts, off)
        except ValueError as e:
            raise ValueError(
                f"{self.name}: {e}; resample first (see stgraph.data.from_long_dataframe)"
            ) from None
        return off

    def _covariates(self, ts: pd.DatetimeIndex, n: int) -> tuple[Tensor, tuple[str, ...]]:
        """Calendar channels first (derived from ``ts`` when absent), then user covariates."""
        cal = torch.from_numpy(calendar_features(ts))
        if self.covariates is None:
            return cal, CALENDAR_NAMES
        cov = _as_tensor(self.covariates, torch.float32)
        names = tuple(self.covariate_names)
        if cov.dim() != 3 or cov.shape[0] != len(ts) or cov.shape[1] not in (1, n):
            raise ValueError(
                f"{self.name}: covariates must be [T, 1 or N, C], got {tuple(cov.shape)}"
            )
        if len(names) != cov.shape[2]:
            raise ValueError(
                f"{self.name}: {len(names)} covariate names for {cov.shape[2]} channels"
            )
        if names[:2] == CALENDAR_NAMES:
            return cov, names
        if cov.shape[1] != 1:
            cal = cal.expand(-1, cov.shape[1], -1)
        return torch.cat([cal, cov], -1).contiguous(), CALENDAR_NAMES + names

    # ------------------------------------------------------------------ shape helpers
    @property
    def num_steps(self) -> int:
        """``T``."""
        return int(self.values.shape[0])

    @property
    def num_nodes(self) -> int:
        """``N``."""
        return int(self.values.shape[1])

    @property
    def num_features(self) -> int:
        """``F``."""
        return int(self.values.shape[2])

    @property
    def freq_str(self) -> str:
        """Canonical name of the step (``"5min"``, ``"h"``, ``"D"``, ``"W-MON"``, ``"MS"``)."""
        return str(self.freq.freqstr)

    @property
    def steps_per_day(self) -> int:
        """Number of steps per day (1 for daily or coarser data)."""
        return steps_per_day(self.freq)

    @property
    def missing_fraction(self) -> float:
        """Fraction of entries with ``mask == False``."""
        return 1.0 - count_true(self.mask) / max(self.mask.numel(), 1)

    def __repr__(self) -> str:
        t, n, f = self.values.shape
        return (
            f"SpatioTemporalData({self.name!r}, T={t}, N={n}, F={f}, freq={self.freq_str}, "
            f"missing={self.missing_fraction:.2%}, graph={self.graph!r})"
        )

    def select_features(self, names: Sequence[str]) -> SpatioTemporalData:
        """Keep only the named features (in the given order)."""
        idx = []
        for nm in names:
            if nm not in self.feature_names:
                raise KeyError(f"{self.name}: no feature {nm!r}; have {list(self.feature_names)}")
            idx.append(self.feature_names.index(nm))
        units = tuple(self.units[i] for i in idx) if len(self.units) == self.num_features else ()
        return SpatioTemporalData(
            self.values[..., idx],
            self.mask[..., idx],
            self.timestamps,
            self.graph,
            tuple(names),
            self.nodes,
            self.covariates,
            self.covariate_names,
            self.name,
            units,
            self.temporal_edges,
            self.freq,
        )
