"""Distance -> weight kernels (pure functions on dense distance matrices)."""

from __future__ import annotations

import numpy as np


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
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    w = np.exp(-np.square(d / sigma))
    w[w < kappa] = 0.0
    return w.astype(np.float32)
