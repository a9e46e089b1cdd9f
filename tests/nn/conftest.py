"""Shared small graphs for the layer tests."""

from __future__ import annotations

import pytest
import torch


def random_graph(n: int = 6, p: float = 0.3, seed: int = 0, symmetric: bool = True):
    """Ring-connected random graph without self-loops or duplicate edges; weights in
    (0.1, 2.1], symmetric when ``symmetric``."""
    g = torch.Generator().manual_seed(seed)
    adj = torch.rand(n, n, generator=g) < p
    ring = torch.arange(n)
    adj[ring, (ring + 1) % n] = True
    if symmetric:
        adj = adj | adj.t()
    adj &= ~torch.eye(n, dtype=torch.bool)
    ei = adj.nonzero().t().contiguous()
    w = torch.rand(n, n, generator=g) * 2 + 0.1
    if symmetric:
        w = (w + w.t()) / 2
    return ei, w[ei[0], ei[1]]


def dense_adjacency(ei, w, n):
    """``A[i, j] = w`` for the edge ``i -> j``."""
    a = torch.zeros(n, n)
    a[ei[0], ei[1]] = w
    return a


@pytest.fixture
def graph():
    return random_graph()
