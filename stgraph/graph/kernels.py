"""Distance -> weight kernels (pure functions on distance matrices and edge distances)."""

from __future__ import annotations

from typing import Literal

import numpy as np

Weighting = Literal["gaussian", "ones", "distance", "inverse"]


def _check_sigma(sigma: float) -> float:
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be finite and > 0, got {sigma}")
    return float(sigma)


def gaussian_weights(dist: np.ndarray, sigma: float) -> np.ndarray:
    r"""Gaussian kernel of distances, :math:`w = \exp(-d^2 / \sigma^2)`.

    Shapes:
        dist: any -> same shape, float64
    """
    return np.exp(-np.square(np.asarray(dist, dtype=np.float64) / _check_sigma(sigma)))


def edge_weights(dist: np.ndarray, kind: Weighting, sigma: float | None = None) -> np.ndarray:
    r"""Edge weights from edge lengths.

    * ``"gaussian"``: :math:`\exp(-d^2/\sigma^2)` (``sigma`` required);
    * ``"ones"``: 1 (binary adjacency, as in ASTGCN's connectivity matrix);
    * ``"distance"``: :math:`d` itself (for users who weigh later);
    * ``"inverse"``: :math:`1/d` (ASTGCN's distance matrix); a zero distance is an error.

    Shapes:
        dist: [E] -> [E] float64
    """
    d = np.asarray(dist, dtype=np.float64)
    if kind == "gaussian":
        if sigma is None:
            raise ValueError("weight='gaussian' needs sigma")
        return gaussian_weights(d, sigma)
    if kind == "ones":
        return np.ones_like(d)
    if kind == "distance":
        return d.copy()
    if kind == "inverse":
        zero = np.flatnonzero(d <= 0)
        if zero.size:
            raise ValueError(
                f"weight='inverse' needs positive distances; edge {int(zero[0])} has distance "
                f"{d[zero[0]]} ({zero.size} such edges)"
            )
        return 1.0 / d
    raise ValueError(
        f"unknown weight {kind!r}; expected 'gaussian', 'ones', 'distance' or 'inverse'"
    )


def gaussian_kernel(dist: np.ndarray, sigma: float | None = None, kappa: float = 0.1) -> np.ndarray:
    r"""Thresholded Gaussian kernel of distances (DCRNN, Li et al., ICLR 2018, sec. 4.1; Shuman
    et al. 2013).

    .. math::
        W_{ij} = \exp\!\big(-d_{ij}^2 / \sigma^2\big) \text{ if } \ge \kappa \text{ else } 0

    ``inf`` marks an unknown distance (no edge). ``sigma`` defaults to the standard deviation
    of all finite entries (DCRNN's choice, self-distances included).

    Args:
        dist: distance matrix, ``dist[i, j]`` from ``i`` to ``j``.
        sigma: kernel width; ``None`` = std of the finite distances.
        kappa: entries below it are set to 0.

    Shapes:
        dist: [N, N] -> weights [N, N] float32
    """
    d = np.asarray(dist, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"distance matrix must be square, got shape {d.shape}")
    if np.isnan(d).any() or (d < 0).any():
        i, j = np.argwhere(np.isnan(d) | (d < 0))[0]
        raise ValueError(f"distance ({i}, {j}) is {d[i, j]}; expected >= 0 or inf")
    finite = d[np.isfinite(d)]
    if sigma is None:
        sigma = float(finite.std()) if finite.size else 1.0
    w = gaussian_weights(d, sigma)
    w[w < kappa] = 0.0
    return w.astype(np.float32)
