"""Node partitions and k-hop halos: balance, coverage, cut quality, determinism, and halos
equal to a brute-force breadth-first search."""

from __future__ import annotations

import time
from collections import deque

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from stgraph.graph import (
    edge_cut,
    k_hop_halo,
    lattice_graph,
    parts_of,
    random_node_batches,
    spectral_partition,
)


def _random_digraph(n: int, e: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, e), generator=g)
    ei = torch.unique(ei[:, ei[0] != ei[1]], dim=1)
    return ei, torch.rand(ei.shape[1], generator=g)


def _knn_graph(n: int, k: int = 8, seed: int = 0) -> torch.Tensor:
    pts = np.random.default_rng(seed).random((n, 2))
    _, nbr = cKDTree(pts).query(pts, k + 1)
    return torch.from_numpy(np.stack([nbr[:, 1:].ravel(), np.repeat(np.arange(n), k)]))


def _bfs(nodes: list[int], ei: torch.Tensor, k: int, flow: str) -> set[int]:
    """Every node with a path of at most k edges into (``in``), out of (``out``) or to
    either side of (``both``) the batch, one breadth-first search per batch."""
    nbrs: dict[int, set[int]] = {}
    for s, t in ei.t().tolist():
        if flow in ("in", "both"):
            nbrs.setdefault(t, set()).add(s)
        if flow in ("out", "both"):
            nbrs.setdefault(s, set()).add(t)
    dist = dict.fromkeys(nodes, 0)
    queue = deque(nodes)
    while queue:
        v = queue.popleft()
        for u in nbrs.get(v, ()):
            if u not in dist and dist[v] < k:
                dist[u] = dist[v] + 1
                queue.append(u)
    return set(dist)


def _lattice_edges(rows: int, cols: int) -> torch.Tensor:
    return lattice_graph((rows, cols)).edge_index


def test_random_batches_cover_every_node_once_with_balanced_sizes():
    batches = random_node_batches(103, 10, torch.Generator().manual_seed(0))
    sizes = [b.numel() for b in batches]
    assert len(batches) == 11 and max(sizes) - min(sizes) <= 1 and max(sizes) <= 10
    assert torch.equal(torch.sort(torch.cat(batches)).values, torch.arange(103))
    again = random_node_batches(103, 10, torch.Generator().manual_seed(0))
    other = random_node_batches(103, 10, torch.Generator().manual_seed(1))
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(batches, other, strict=True))


@pytest.mark.parametrize("num_parts", [2, 3, 7, 16])
def test_spectral_partition_is_balanced_covering_and_cuts_few_edges(num_parts):
    ei = _lattice_edges(16, 20)  # 320 nodes
    part = spectral_partition(ei, 320, num_parts)
    sizes = torch.bincount(part, minlength=num_parts)
    assert part.shape == (320,) and int(part.min()) == 0 and int(part.max()) == num_parts - 1
    assert int(sizes.max()) - int(sizes.min()) <= 1  # balanced: floor or ceil of N / P
    chunks = parts_of(part, num_parts)
    assert torch.equal(torch.sort(torch.cat(chunks)).values, torch.arange(320))
    assert all(bool((part[c] == p).all()) for p, c in enumerate(chunks))
    shuffled = part[torch.randperm(320, generator=torch.Generator().manual_seed(0))]
    assert edge_cut(ei, part) < 0.3 * edge_cut(ei, shuffled)  # regions, not scattered nodes


def test_spectral_partition_is_deterministic_by_seed():
    ei = _knn_graph(600)
    a, b = spectral_partition(ei, 600, 6, seed=3), spectral_partition(ei, 600, 6, seed=3)
    assert torch.equal(a, b)


def test_spectral_partition_keeps_components_whole_when_sizes_allow():
    # components of 60, 20 and 20 nodes (two lattices and a ring) plus 20 isolated nodes
    big = _lattice_edges(6, 10)
    small = _lattice_edges(4, 5) + 60
    ring = torch.stack([torch.arange(80, 100), torch.arange(81, 101) % 20 + 80])
    ei = torch.cat([big, small, ring, ring.flip(0)], 1)
    part = spectral_partition(ei, 120, 6)  # six parts of 20
    assert torch.equal(torch.bincount(part), torch.full((6,), 20))
    for lo, hi in ((60, 80), (80, 100)):
        assert part[lo:hi].unique().numel() == 1  # a component of one part's size is a part
    assert edge_cut(ei, part) < 0.15 * ei.shape[1]  # only the 6 x 10 lattice is cut in three


def test_spectral_partition_of_ten_thousand_nodes_takes_seconds():
    ei = _knn_graph(10_000)
    t0 = time.process_time()  # CPU seconds: the same on a busy machine
    part = spectral_partition(ei, 10_000, 20)
    seconds = time.process_time() - t0
    sizes = torch.bincount(part)
    assert sizes.numel() == 20 and int(sizes.min()) == int(sizes.max()) == 500
    assert edge_cut(ei, part) < 0.1 * ei.shape[1]
    assert seconds < 8.0, f"partition of 10,000 nodes took {seconds:.1f} CPU s"


def test_spectral_partition_rejects_impossible_part_counts():
    with pytest.raises(ValueError, match="num_parts"):
        spectral_partition(_lattice_edges(2, 2), 4, 5)


@pytest.mark.parametrize("flow", ["in", "out", "both"])
@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_halo_matches_breadth_first_search(flow, k):
    ei, ew = _random_digraph(40, 70, seed=k)
    batch = torch.tensor([3, 17, 29, 8])
    halo = k_hop_halo(batch, ei, k, 40, ew, flow=flow)
    assert set(halo.nodes.tolist()) == _bfs(batch.tolist(), ei, k, flow)
    assert halo.nodes.unique().numel() == halo.num_nodes  # no node twice
    # the batch's own nodes come first, in the given order, and are marked core
    assert torch.equal(halo.nodes[halo.core_pos], batch)
    assert torch.equal(halo.core, torch.arange(halo.num_nodes) < batch.numel())


def test_halo_subgraph_is_the_reindexed_induced_subgraph():
    ei, ew = _random_digraph(40, 90, seed=7)
    halo = k_hop_halo(torch.tensor([5, 11]), ei, 2, 40, ew)
    keep = set(halo.nodes.tolist())
    want = {
        (s, t, round(w, 6))
        for (s, t), w in zip(ei.t().tolist(), ew.tolist(), strict=True)
        if s in keep and t in keep
    }
    assert halo.edge_weight is not None
    back = halo.nodes[halo.edge_index]  # local -> global ids
    got = [
        (s, t, round(w, 6))
        for (s, t), w in zip(back.t().tolist(), halo.edge_weight.tolist(), strict=True)
    ]
    assert len(got) == len(want) and set(got) == want
    assert int(halo.edge_index.min()) >= 0 and int(halo.edge_index.max()) < halo.num_nodes


def test_halo_rejects_repeated_nodes_and_negative_hops():
    ei, _ = _random_digraph(10, 20, seed=0)
    with pytest.raises(ValueError, match="distinct"):
        k_hop_halo(torch.tensor([1, 1]), ei, 1, 10)
    with pytest.raises(ValueError, match="k must be"):
        k_hop_halo(torch.tensor([1]), ei, -1, 10)
