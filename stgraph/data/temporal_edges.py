"""Time-varying edges: one edge list per time step, stored concatenated (CSR over time).

Batching rule: a window carries the edges of its **last input step** ``start + L - 1`` — the
newest graph known when the forecast is made (edges of target steps would be future
information). A batch stacks the windows' graphs block-diagonally over ``B * N`` nodes, the
PyTorch Geometric batching convention, with ``edge_ptr`` marking each window's slice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True, eq=False)
class TemporalEdges:
    """Per-time-step edge lists of a graph whose links change over time.

    Args:
        edge_index: all steps' edges concatenated, node indices in ``[0, num_nodes)``.
        edge_weight: their weights (finite, >= 0).
        ptr: step ``t`` owns edges ``ptr[t]:ptr[t + 1]``.
        num_nodes: ``N``.

    Shapes:
        edge_index: [2, E_total], edge_weight: [E_total], ptr: [T + 1]
    """

    edge_index: Tensor
    edge_weight: Tensor
    ptr: Tensor
    num_nodes: int

    def __post_init__(self) -> None:
        ei = torch.as_tensor(self.edge_index, dtype=torch.long).reshape(2, -1).contiguous()
        ew = torch.as_tensor(self.edge_weight, dtype=torch.float32).reshape(-1).contiguous()
        ptr = torch.as_tensor(self.ptr, dtype=torch.long).reshape(-1).contiguous()
        if ew.numel() != ei.shape[1]:
            raise ValueError(f"{ew.numel()} edge weights for {ei.shape[1]} edges")
        if ptr.numel() < 1 or ptr[0] != 0 or ptr[-1] != ei.shape[1] or (ptr.diff() < 0).any():
            raise ValueError("ptr must start at 0, be non-decreasing and end at the edge count")
        bad = (ei < 0) | (ei >= self.num_nodes)
        if bad.any():
            e = int(bad.any(0).nonzero()[0])
            t = int(torch.searchsorted(ptr, e, right=True)) - 1
            raise ValueError(
                f"time step {t}: edge {tuple(ei[:, e].tolist())} has a node index outside "
                f"[0, {self.num_nodes})"
            )
        if not (torch.isfinite(ew) & (ew >= 0)).all():
            raise ValueError("edge weights must be finite and >= 0")
        for key, val in (("edge_index", ei), ("edge_weight", ew), ("ptr", ptr)):
            object.__setattr__(self, key, val)

    @classmethod
    def from_steps(cls, steps: Sequence[tuple[Any, Any]], num_nodes: int) -> TemporalEdges:
        """Build from one ``(edge_index [2, E_t], edge_weight [E_t] or None)`` pair per step."""
        eis, ews, sizes = [], [], [0]
        for t, (ei, ew) in enumerate(steps):
            a = np.asarray(ei, dtype=np.int64).reshape(2, -1) if np.size(ei) else np.zeros((2, 0))
            w = np.ones(a.shape[1]) if ew is None else np.asarray(ew, dtype=np.float64).ravel()
            if w.shape[0] != a.shape[1]:
                raise ValueError(f"time step {t}: {w.shape[0]} weights for {a.shape[1]} edges")
            eis.append(a.astype(np.int64))
            ews.append(w)
            sizes.append(a.shape[1])
        return cls(
            torch.from_numpy(np.concatenate(eis, 1) if eis else np.zeros((2, 0), np.int64)),
            torch.from_numpy(np.concatenate(ews) if ews else np.zeros(0)),
            torch.from_numpy(np.cumsum(sizes)),
            num_nodes,
        )

    @property
    def num_steps(self) -> int:
        """``T``."""
        return int(self.ptr.numel() - 1)

    def at(self, t: int) -> tuple[Tensor, Tensor]:
        """Edges of time step ``t``.

        Shapes:
            output: edge_index [2, E_t], edge_weight [E_t]
        """
        if not -self.num_steps <= t < self.num_steps:
            raise IndexError(f"time step {t} outside [0, {self.num_steps})")
        t %= self.num_steps
        lo, hi = int(self.ptr[t]), int(self.ptr[t + 1])
        return self.edge_index[:, lo:hi], self.edge_weight[lo:hi]

    def gather(self, steps: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Block-diagonal union of the graphs at ``steps`` (one per window).

        Window ``b``'s edges have node indices offset by ``b * N`` and occupy positions
        ``edge_ptr[b]:edge_ptr[b + 1]``.

        Shapes:
            steps: [B] -> edge_index [2, E_B], edge_weight [E_B], edge_ptr [B + 1]
        """
        steps = torch.as_tensor(steps, dtype=torch.long).reshape(-1)
        lo, hi = self.ptr[steps], self.ptr[steps + 1]
        counts = hi - lo
        edge_ptr = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
        window = torch.repeat_interleave(torch.arange(steps.numel()), counts)
        pos = torch.arange(int(edge_ptr[-1])) - edge_ptr[window] + lo[window]
        ei = self.edge_index[:, pos] + window * self.num_nodes
        return ei, self.edge_weight[pos], edge_ptr
