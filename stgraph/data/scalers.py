"""Scalers fit on the observed training values only, with exact inverse transforms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from stgraph.data.chunks import chunk_rows, time_chunks

_BIG = torch.finfo(torch.float64).max


@dataclass(frozen=True)
class MaskedSummary:
    """Exact statistics of the observed entries per row (node, or all nodes pooled) and
    feature: count, mean, sum of squared deviations ``m2``, minimum and maximum (float64).

    Built one time chunk at a time (:meth:`of`) and merged exactly (:meth:`merge`, Chan et
    al.'s pairwise update), so a fit over a long series keeps only ``[N, F]`` accumulators.
    Rows without an observed value have count 0, mean 0, ``m2`` 0, ``lo = +MAX`` and
    ``hi = -MAX`` (the largest float64).

    Shapes:
        count, mean, m2, lo, hi: [N or 1, F]
    """

    count: Tensor
    mean: Tensor
    m2: Tensor
    lo: Tensor
    hi: Tensor

    @classmethod
    def of(cls, values: Tensor, mask: Tensor) -> MaskedSummary:
        """Per-node summary of one chunk.

        Shapes:
            values, mask: [t, N, F] -> [N, F] statistics
        """
        x, m = values.double(), mask.bool()
        cnt = m.sum(0).double()
        mean = (x * m).sum(0) / cnt.clamp_min(1)
        m2 = (((x - mean) ** 2) * m).sum(0)
        lo = torch.where(m, x, torch.full_like(x, _BIG)).amin(0)
        hi = torch.where(m, x, torch.full_like(x, -_BIG)).amax(0)
        return cls(cnt, mean, m2, lo, hi)

    def merge(self, other: MaskedSummary) -> MaskedSummary:
        """Summary of both parts' observed values together (same shape)."""
        n = self.count + other.count
        delta = other.mean - self.mean
        w = other.count / n.clamp_min(1)
        mean = self.mean + delta * w
        m2 = self.m2 + other.m2 + delta**2 * self.count * w
        return MaskedSummary(
            n, mean, m2, torch.minimum(self.lo, other.lo), torch.maximum(self.hi, other.hi)
        )

    def pooled(self) -> MaskedSummary:
        """All rows merged into one (exact: the pooled mean and ``m2`` of every value).

        Shapes:
            [N, F] -> [1, F]
        """
        n = self.count.sum(0, keepdim=True)
        mean = (self.count * self.mean).sum(0, keepdim=True) / n.clamp_min(1)
        m2 = (self.m2 + self.count * (self.mean - mean) ** 2).sum(0, keepdim=True)
        lo, hi = self.lo.amin(0, keepdim=True), self.hi.amax(0, keepdim=True)
        return MaskedSummary(n, mean, m2, lo, hi)

    @property
    def std(self) -> Tensor:
        """Population standard deviation (0 where nothing is observed)."""
        return (self.m2 / self.count.clamp_min(1)).sqrt()

    @classmethod
    def over_time(cls, values: Tensor, mask: Tensor) -> MaskedSummary:
        """Per-node summary of a whole series, accumulated over time chunks
        (:func:`stgraph.data.chunks.time_chunks`).

        Shapes:
            values, mask: [T, N, F] -> [N, F] statistics
        """
        total: MaskedSummary | None = None
        for _, (v, m) in time_chunks(values, mask, rows=chunk_rows(values) // 4 or 1):
            part = cls.of(v, m)
            total = part if total is None else total.merge(part)
        if total is None:
            raise ValueError("cannot summarise a series without time steps")
        return total


class Scaler:
    """Affine scaler ``z = (x - shift) / scale`` with statistics of shape ``[N or 1, F]``.

    Subclasses define :meth:`_stats` from a :class:`MaskedSummary`. Statistics are computed
    from observed entries (``mask == True``) of the values passed to :meth:`fit` — the
    training split only — so values outside the training range can never move them.

    Shapes:
        fit: values, mask [T, N, F]
        transform / inverse_transform: [..., N, F] -> same shape
    """

    kind: ClassVar[str] = "base"
    per_node: ClassVar[bool] = False

    def __init__(self) -> None:
        self.shift: Tensor | None = None
        self.scale: Tensor | None = None

    def _stats(self, s: MaskedSummary) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def fit(self, values: Tensor, mask: Tensor) -> Scaler:
        """Estimate statistics from observed entries of ``values`` (float64 accumulation over
        time chunks: memory does not grow with ``T``).

        Nodes without any observed training value fall back to the global statistics
        (per-node scalers); a zero spread becomes 1.
        """
        node = MaskedSummary.over_time(values, mask)  # [N, F]
        if not bool((node.count > 0).any()):
            raise ValueError("cannot fit a scaler: the training split has no observed value")
        shift, scale = self._stats(node.pooled())  # [1, F]
        if self.per_node:
            node_shift, node_scale = self._stats(node)
            seen = node.count > 0
            shift = torch.where(seen, node_shift, shift)
            scale = torch.where(seen, node_scale, scale)
        scale = torch.where(scale > 1e-12, scale, torch.ones_like(scale))
        self.shift, self.scale = shift.float(), scale.float()
        return self

    def _check(self) -> tuple[Tensor, Tensor]:
        if self.shift is None or self.scale is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted")
        return self.shift, self.scale

    def transform(self, x: Tensor) -> Tensor:
        """``(x - shift) / scale``."""
        shift, scale = self._check()
        return (x - shift.to(x)) / scale.to(x)

    def inverse_transform(self, z: Tensor) -> Tensor:
        """``z * scale + shift`` (exact inverse of :meth:`transform`)."""
        shift, scale = self._check()
        return z * scale.to(z) + shift.to(z)

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state (kind + statistics as nested lists)."""
        shift, scale = self._check()
        return {"kind": self.kind, "shift": shift.tolist(), "scale": scale.tolist()}

    def __repr__(self) -> str:
        fitted = "fitted" if self.shift is not None else "unfitted"
        return f"{type(self).__name__}({fitted})"


class StandardScaler(Scaler):
    """z-score over all nodes: one mean and std per feature."""

    kind = "zscore"

    def _stats(self, s: MaskedSummary) -> tuple[Tensor, Tensor]:
        return s.mean, s.std


class NodeStandardScaler(StandardScaler):
    """z-score per node and feature."""

    kind = "zscore-node"
    per_node = True


class MinMaxScaler(Scaler):
    """Min-max to ``[0, 1]`` over all nodes, per feature."""

    kind = "minmax"

    def _stats(self, s: MaskedSummary) -> tuple[Tensor, Tensor]:
        return s.lo, s.hi - s.lo


class MaxScaler(Scaler):
    """Divide by the maximum observed value per feature (T-GCN's preprocessing)."""

    kind = "max"

    def _stats(self, s: MaskedSummary) -> tuple[Tensor, Tensor]:
        return torch.zeros_like(s.hi), s.hi


class IdentityScaler(Scaler):
    """No scaling (shift 0, scale 1)."""

    kind = "none"

    def _stats(self, s: MaskedSummary) -> tuple[Tensor, Tensor]:
        return torch.zeros_like(s.mean), torch.ones_like(s.mean)


SCALERS: dict[str, type[Scaler]] = {
    c.kind: c for c in (StandardScaler, NodeStandardScaler, MinMaxScaler, MaxScaler, IdentityScaler)
}


def make_scaler(kind: str) -> Scaler:
    """Unfitted scaler by name: ``zscore``, ``zscore-node``, ``minmax``, ``max`` or ``none``."""
    try:
        return SCALERS[kind]()
    except KeyError:
        raise ValueError(f"unknown scaler {kind!r}; expected one of {sorted(SCALERS)}") from None


def scaler_from_state(state: dict[str, Any]) -> Scaler:
    """Rebuild a fitted scaler from :meth:`Scaler.state_dict` output."""
    s = make_scaler(state["kind"])
    s.shift = torch.tensor(state["shift"], dtype=torch.float32)
    s.scale = torch.tensor(state["scale"], dtype=torch.float32)
    return s
