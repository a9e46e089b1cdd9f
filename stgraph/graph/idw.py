r"""Inverse-distance weighting (IDW): spatial interpolation at target points from the values
observed at source points (Shepard, Proc. ACM National Conference 1968).

.. math::
    \hat v_j = \frac{\sum_{i \in S_j} w_{ij} v_i}{\sum_{i \in S_j} w_{ij}}, \qquad
    w_{ij} = d_{ij}^{-p}

where :math:`S_j` are the sources observed at that time and feature (or the ``k`` nearest of
them), :math:`d_{ij}` the distance between target :math:`j` and source :math:`i` (great-circle
metres for geographic coordinates, CRS units otherwise) and :math:`p` the power (2 by
default). A source at distance 0 is the value itself: when observed sources sit at zero
distance, the estimate is their plain mean. Distances are pure geometry, so this module
knows nothing about time, windows or training.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from stgraph.graph.geo import haversine, is_geographic
from stgraph.graph.sensor_graph import SensorGraph

#: entries of the ``[chunk, M, S, F]`` intermediate processed at once
_CHUNK_ELEMENTS = 1 << 22


def station_distances(
    graph: SensorGraph, targets: Sequence[int], sources: Sequence[int]
) -> np.ndarray:
    """Distances from each target node to each source node of ``graph``: great-circle metres
    (haversine) for geographic coordinates, Euclidean CRS units otherwise.

    Args:
        graph: a graph with node coordinates.
        targets: node positions of the targets.
        sources: node positions of the sources.

    Shapes:
        output: [M, S] float64 (M targets, S sources)

    Raises:
        ValueError: the graph has no coordinates.
    """
    if graph.coords is None or graph.crs is None:
        raise ValueError(
            f"graph {graph.name!r} has no node coordinates; inverse-distance weighting needs "
            "(x, y) per node"
        )
    xy = graph.coords
    a, b = xy[np.asarray(targets, dtype=np.int64)], xy[np.asarray(sources, dtype=np.int64)]
    if is_geographic(graph.crs):
        return haversine(a[:, None, :], b[None, :, :])
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))


def idw_weights(distances: Tensor | np.ndarray, power: float = 2.0) -> tuple[Tensor, Tensor]:
    r"""The IDW weights :math:`w_{ij} = d_{ij}^{-p}` of the module docstring, computed once
    for many :func:`idw_estimate` calls, with the pairs at zero distance apart (a source at
    distance 0 is the value itself; its weight here is 0).

    Args:
        distances: target-to-source distances (e.g. :func:`station_distances`), >= 0.
        power: the power :math:`p` (> 0).

    Shapes:
        distances: [M, S]; output: weights [M, S] float64, zero [M, S] bool
    """
    d = torch.as_tensor(distances, dtype=torch.float64)
    if d.dim() != 2:
        raise ValueError(f"distances must be [M, S] (targets x sources), got {tuple(d.shape)}")
    if not bool(torch.isfinite(d).all()) or bool((d < 0).any()):
        raise ValueError("distances must be finite and >= 0")
    if not power > 0:
        raise ValueError(f"power must be > 0, got {power}")
    zero = d == 0
    w = torch.where(zero, torch.zeros((), dtype=d.dtype), d.clamp_min(1e-300) ** -power)
    return w, zero


def _source_mask(values: Tensor, mask: Tensor | None) -> Tensor:
    m = torch.ones_like(values, dtype=torch.bool) if mask is None else mask.bool()
    if m.shape != values.shape:
        raise ValueError(f"mask shape {tuple(m.shape)} != values shape {tuple(values.shape)}")
    return m


def idw_estimate(
    values: Tensor, mask: Tensor | None, weights: tuple[Tensor, Tensor]
) -> tuple[Tensor, Tensor]:
    r"""IDW estimates at ``M`` targets from every observed source (see the module
    docstring), with weights from :func:`idw_weights`: one matrix product for all entries,
    :math:`\hat v = (W (m \odot v)) / (W m)` (the zero-distance pairs instead, where one of
    them is observed). A source that is not observed (``mask`` False) contributes
    nothing, so a target that is its own source (zero diagonal) is never filled from itself
    when its own entry is masked.

    Args:
        values: source values.
        mask: ``True`` where a source value is observed (``None`` = all observed).
        weights: ``(weights, zero)`` of :func:`idw_weights`.

    Returns:
        ``(estimate, ok)``: the estimate (0 where no source is observed) and where at least
        one source was observed.

    Shapes:
        values, mask: [..., S, F]; weights: [M, S] each
        output: estimate [..., M, F] (values' dtype), ok [..., M, F] bool
    """
    w, zero = weights
    if w.shape[1] != values.shape[-2]:
        raise ValueError(
            f"distances must be [M, S] with S = {values.shape[-2]} sources, got {tuple(w.shape)}"
        )
    m = _source_mask(values, mask)
    lead, (s, f), nt = values.shape[:-2], values.shape[-2:], w.shape[0]
    v2, m2 = values.reshape(-1, s, f).double(), m.reshape(-1, s, f)
    both = torch.cat([torch.where(m2, v2, v2.new_zeros(())), m2.double()], -1)  # [R, S, 2F]
    cols = both.transpose(0, 1).reshape(s, -1)  # one matrix product for every entry
    sums = (w.to(values.device) @ cols).reshape(nt, -1, 2 * f).transpose(0, 1)
    if bool(zero.any()):  # observed sources at distance 0 replace the weighted mean
        t, src = zero.to(values.device).nonzero(as_tuple=True)
        exact = both.new_zeros(sums.shape).index_add_(1, t, both[:, src])
        hit = exact[..., f:] > 0
        sums = torch.where(hit.repeat(1, 1, 2), exact, sums)
    return _finish(sums[..., :f], sums[..., f:], (*lead, nt, f), values.dtype)


def _finish(
    num: Tensor, den: Tensor, shape: tuple[int, ...], dtype: torch.dtype
) -> tuple[Tensor, Tensor]:
    good = den > 0
    est = torch.where(good, num / den.clamp_min(1e-300), num.new_zeros(()))
    return est.reshape(shape).to(dtype), good.reshape(shape)


def idw_interpolate(
    values: Tensor,
    mask: Tensor | None,
    distances: Tensor | np.ndarray,
    power: float = 2.0,
    k: int | None = None,
) -> tuple[Tensor, Tensor]:
    r"""IDW estimates at ``M`` targets from ``S`` sources (see the module docstring), entry
    by entry: each leading index and feature uses the sources observed there.

    Args:
        values: source values.
        mask: ``True`` where a source value is observed (``None`` = all observed).
        distances: target-to-source distances (e.g. :func:`station_distances`), >= 0.
        power: the power :math:`p` (> 0).
        k: use only the ``k`` nearest *observed* sources of each entry (``None`` = all,
            :func:`idw_estimate`).

    Returns:
        ``(estimate, ok)``: the estimate (0 where no source is observed) and where at least
        one source was observed.

    Shapes:
        values, mask: [..., S, F]; distances: [M, S]
        output: estimate [..., M, F] (values' dtype), ok [..., M, F] bool
    """
    d = torch.as_tensor(distances, dtype=torch.float64)
    if d.dim() != 2 or d.shape[1] != values.shape[-2]:
        raise ValueError(
            f"distances must be [M, S] with S = {values.shape[-2]} sources, got {tuple(d.shape)}"
        )
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise ValueError(f"k must be an integer >= 1 or None, got {k!r}")
    weights = idw_weights(d, power)
    if k is None:
        return idw_estimate(values, mask, weights)
    m = _source_mask(values, mask)
    lead, (s, f) = values.shape[:-2], values.shape[-2:]
    v2, m2 = values.reshape(-1, s, f).double(), m.reshape(-1, s, f)
    num, den = _k_nearest_sums(v2, m2, d, weights[0], k)
    return _finish(num, den, (*lead, d.shape[0], f), values.dtype)


def _k_nearest_sums(v: Tensor, m: Tensor, d: Tensor, w: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Numerator and denominator of the IDW estimate over the ``k`` nearest observed
    sources of every entry (or the observed sources at zero distance, when any).

    Shapes:
        v, m: [R, S, F]; d, w: [M, S] distances and weights -> [R, M, F] each
    """
    nt, s = w.shape
    f = v.shape[-1]
    order = d.argsort(dim=1, stable=True)  # nearest first
    ws, zs = w.gather(1, order), d.gather(1, order) == 0
    rows = max(1, _CHUNK_ELEMENTS // max(nt * s * f, 1))
    nums, dens = [v.new_zeros(0, nt, f)], [v.new_zeros(0, nt, f)]
    for a in range(0, v.shape[0], rows):
        vs, ms = v[a : a + rows][:, order], m[a : a + rows][:, order]  # [c, M, S, F]
        ms = ms & (ms.cumsum(2) <= k)
        exact = ms & zs[None, :, :, None]
        weights = torch.where(exact.any(2, keepdim=True), exact.double(), ms * ws[None, :, :, None])
        nums.append((weights * vs).sum(2))
        dens.append(weights.sum(2))
    return torch.cat(nums), torch.cat(dens)


class NodeIDW:
    r"""IDW among the ``N`` nodes of a graph, the distances and weights computed once:
    estimates at every node from the entries marked visible (:func:`idw_estimate` over all
    of them, one matrix product; or the ``k`` nearest, :func:`idw_interpolate`).

    Args:
        graph: a graph with node coordinates (:func:`station_distances`).
        power: the IDW power (> 0).
        k: the ``k`` nearest visible nodes per entry (``None`` = all).

    Shapes:
        values, visible: [..., N, F]; output: estimate, ok [..., N, F]
    """

    def __init__(self, graph: SensorGraph, power: float = 2.0, k: int | None = None) -> None:
        n = graph.num_nodes
        self.distances = station_distances(graph, range(n), range(n))
        self.weights = idw_weights(self.distances, power)
        self.power, self.k = power, k

    def __call__(self, values: Tensor, visible: Tensor) -> tuple[Tensor, Tensor]:
        """``(estimate, ok)`` at every node from the visible entries (ok: some source)."""
        if self.k is None:
            return idw_estimate(values, visible, self.weights)
        return idw_interpolate(values, visible, self.distances, self.power, self.k)

    def fill(self, values: Tensor, mask: Tensor, hidden: Tensor) -> tuple[Tensor, Tensor]:
        r"""Replace the hidden entries by the estimate from the visible observed ones,
        :math:`\tilde v_j = \sum_i w_{ji} o_i v_i / \sum_i w_{ji} o_i`,
        :math:`o = m \wedge \lnot h`: a hidden entry never feeds its own estimate (nor any
        other). Hidden entries with no visible source stay missing.

        Args:
            values: values at the ``N`` nodes.
            mask: ``True`` where a value is observed.
            hidden: ``True`` where a value must be hidden and filled (broadcasts to
                ``values``).

        Returns:
            ``(values, mask)``: the hidden entries filled where possible (the others not
            observed: 0), the mask ``True`` at the visible observed and the filled entries.

        Shapes:
            values, mask: [..., N, F]; hidden: broadcastable to them; output: [..., N, F]
        """
        visible = mask.bool() & ~hidden.bool()
        est, ok = self(values, visible)
        filled = ok & hidden.bool()
        kept = torch.where(visible, values, torch.zeros((), dtype=values.dtype))
        return torch.where(filled, est, kept), visible | filled
