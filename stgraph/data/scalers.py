"""Scalers fit on the observed training values only, with exact inverse transforms."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor


class Scaler:
    """Affine scaler ``z = (x - shift) / scale`` with statistics of shape ``[N or 1, F]``.

    Subclasses define :meth:`_stats`. Statistics are computed from observed entries
    (``mask == True``) of the values passed to :meth:`fit` — the training split only — so
    values outside the training range can never move them.

    Shapes:
        fit: values, mask [T, N, F]
        transform / inverse_transform: [..., N, F] -> same shape
    """

    kind: ClassVar[str] = "base"
    per_node: ClassVar[bool] = False

    def __init__(self) -> None:
        self.shift: Tensor | None = None
        self.scale: Tensor | None = None

    def _stats(self, x: Tensor, m: Tensor, dims: tuple[int, ...]) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def fit(self, values: Tensor, mask: Tensor) -> Scaler:
        """Estimate statistics from observed entries of ``values`` (float64 accumulation).

        Nodes without any observed training value fall back to the global statistics
        (per-node scalers); a zero spread becomes 1.
        """
        x, m = values.double(), mask.bool()
        if not bool(m.any()):
            raise ValueError("cannot fit a scaler: the training split has no observed value")
        shift, scale = self._stats(x, m, (0, 1))  # global [F]
        shift, scale = shift[None], scale[None]
        if self.per_node:
            node_shift, node_scale = self._stats(x, m, (0,))  # [N, F]
            seen = m.any(0)
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


def _masked_moments(x: Tensor, m: Tensor, dims: tuple[int, ...]) -> tuple[Tensor, Tensor, Tensor]:
    cnt = m.sum(dims).clamp_min(1).double()
    mean = (x * m).sum(dims) / cnt
    var = (((x - mean) ** 2) * m).sum(dims) / cnt
    return mean, var.sqrt(), cnt


class StandardScaler(Scaler):
    """z-score over all nodes: one mean and std per feature."""

    kind = "zscore"

    def _stats(self, x: Tensor, m: Tensor, dims: tuple[int, ...]) -> tuple[Tensor, Tensor]:
        mean, std, _ = _masked_moments(x, m, dims)
        return mean, std


class NodeStandardScaler(StandardScaler):
    """z-score per node and feature."""

    kind = "zscore-node"
    per_node = True


class MinMaxScaler(Scaler):
    """Min-max to ``[0, 1]`` over all nodes, per feature."""

    kind = "minmax"

    def _stats(self, x: Tensor, m: Tensor, dims: tuple[int, ...]) -> tuple[Tensor, Tensor]:
        big = torch.finfo(torch.float64).max
        lo = torch.where(m, x, torch.full_like(x, big)).amin(dims)
        hi = torch.where(m, x, torch.full_like(x, -big)).amax(dims)
        return lo, hi - lo


class MaxScaler(Scaler):
    """Divide by the maximum observed value per feature (T-GCN's preprocessing)."""

    kind = "max"

    def _stats(self, x: Tensor, m: Tensor, dims: tuple[int, ...]) -> tuple[Tensor, Tensor]:
        big = torch.finfo(torch.float64).max
        hi = torch.where(m, x, torch.full_like(x, -big)).amax(dims)
        return torch.zeros_like(hi), hi


class IdentityScaler(Scaler):
    """No scaling (shift 0, scale 1)."""

    kind = "none"

    def _stats(self, x: Tensor, m: Tensor, dims: tuple[int, ...]) -> tuple[Tensor, Tensor]:
        z = x.new_zeros(x.shape[-1]) if len(dims) == 2 else x.new_zeros(x.shape[1:])
        return z, torch.ones_like(z)


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
