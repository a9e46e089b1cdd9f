"""Windows by index: datasets hold start indices only and never copy the series."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from stgraph.data.chunks import release_windows
from stgraph.data.spatiotemporal import SpatioTemporalData


@dataclass
class Batch:
    """One mini-batch of windows.

    For series with time-varying edges, ``edge_index``/``edge_weight`` hold each window's graph
    at its last input step, stacked block-diagonally over ``B * N`` nodes (window ``b`` uses
    nodes ``b*N .. b*N + N - 1`` and edges ``edge_ptr[b]:edge_ptr[b + 1]``); see
    :mod:`stgraph.data.temporal_edges`. They are ``None`` for static graphs.

    Shapes:
        x, x_mask: [B, L, N, F]; y, y_mask: [B, H, N, F]
        covariates: [B, L + H, 1 or N, C] (past and known-future), start: [B]
        edge_index: [2, E_B], edge_weight: [E_B], edge_ptr: [B + 1] (or None)
    """

    x: Tensor
    y: Tensor
    x_mask: Tensor
    y_mask: Tensor
    covariates: Tensor
    start: Tensor
    edge_index: Tensor | None = None
    edge_weight: Tensor | None = None
    edge_ptr: Tensor | None = None

    def to(self, device: torch.device | str) -> Batch:
        """Move every tensor to ``device``."""
        moved: dict[str, Any] = {}
        for f in fields(self):
            val = getattr(self, f.name)
            moved[f.name] = None if val is None else val.to(device)
        return Batch(**moved)

    def window_edges(self, b: int) -> tuple[Tensor, Tensor]:
        """Edges of window ``b`` with node indices in ``[0, N)``.

        Shapes:
            output: edge_index [2, E_b], edge_weight [E_b]
        """
        if self.edge_index is None or self.edge_weight is None or self.edge_ptr is None:
            raise ValueError("this batch has no time-varying edges (static graph)")
        lo, hi = int(self.edge_ptr[b]), int(self.edge_ptr[b + 1])
        return self.edge_index[:, lo:hi] - b * self.x.shape[2], self.edge_weight[lo:hi]

    def __len__(self) -> int:
        return int(self.x.shape[0])


class WindowDataset(Dataset):
    """Sliding windows of a :class:`SpatioTemporalData`, stored as start indices.

    ``dataset[i]`` returns *views* into the series (they share its storage); :meth:`batch`
    gathers many windows into one contiguous :class:`Batch` (the only copy made, one batch
    at a time). For a memory-mapped series (:func:`stgraph.data.open_series`) a batch reads
    only its windows' time steps from disk and unmaps them again after the copy, so the
    resident memory stays about one batch whatever the length of the series.

    Args:
        data: the series.
        starts: window start indices (see :func:`stgraph.data.splits.window_starts`).
        lookback: input length ``L``.
        horizon: target length ``H``.

    Shapes:
        item: dict with x [L, N, F], y [H, N, F], x_mask, y_mask, covariates [L + H, ., C],
            start; plus edge_index [2, E], edge_weight [E] of step start + L - 1 when the series
            has time-varying edges
    """

    def __init__(
        self, data: SpatioTemporalData, starts: np.ndarray, lookback: int, horizon: int
    ) -> None:
        self.data = data
        self.starts = np.asarray(starts, dtype=np.int64)
        self.lookback = int(lookback)
        self.horizon = int(horizon)
        if self.starts.size and (
            self.starts.min() < 0 or self.starts.max() + lookback + horizon > data.num_steps
        ):
            raise ValueError(
                f"window starts must lie in [0, {data.num_steps - lookback - horizon}] for "
                f"L={lookback}, H={horizon}, T={data.num_steps}"
            )

    def __len__(self) -> int:
        return int(self.starts.size)

    def __getitem__(self, i: int) -> dict[str, Tensor | int]:
        s = int(self.starts[i])
        L, H = self.lookback, self.horizon
        d = self.data
        item: dict[str, Tensor | int] = {
            "x": d.values[s : s + L],
            "y": d.values[s + L : s + L + H],
            "x_mask": d.mask[s : s + L],
            "y_mask": d.mask[s + L : s + L + H],
            "covariates": d.covariates[s : s + L + H],  # type: ignore[index]
            "start": s,
        }
        if d.temporal_edges is not None:
            item["edge_index"], item["edge_weight"] = d.temporal_edges.at(s + L - 1)
        return item

    def batch(self, positions: Tensor | np.ndarray) -> Batch:
        """Gather windows at ``positions`` (indices into this dataset) into a :class:`Batch`."""
        s = torch.as_tensor(self.starts[np.asarray(positions)], dtype=torch.long)
        L, H = self.lookback, self.horizon
        t = s[:, None] + torch.arange(L + H)
        d = self.data
        v, m = d.values[t], d.mask[t]
        for series in (d.values, d.mask):  # a memory-mapped series keeps only this batch
            release_windows(series, s.numpy(), L + H)
        edges: tuple[Tensor | None, Tensor | None, Tensor | None] = (None, None, None)
        if d.temporal_edges is not None:
            edges = d.temporal_edges.gather(s + L - 1)
        return Batch(
            x=v[:, :L],
            y=v[:, L:],
            x_mask=m[:, :L],
            y_mask=m[:, L:],
            covariates=d.covariates[t],  # type: ignore[index]
            start=s,
            edge_index=edges[0],
            edge_weight=edges[1],
            edge_ptr=edges[2],
        )

    def loader(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[Batch]:
        """Iterate over batches; with ``shuffle`` the order is drawn from ``generator`` (so a
        seeded generator makes the epoch order reproducible)."""
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        for i in range(0, n, batch_size):
            yield self.batch(order[i : i + batch_size].numpy())

    def num_batches(self, batch_size: int) -> int:
        """Number of batches :meth:`loader` yields."""
        return -(-len(self) // batch_size)
