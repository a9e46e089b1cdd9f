"""Benchmark: kNN and radius graphs on 100,000 random lon/lat points vs a naive O(N^2) build.

The builders (``stgraph.graph.build("knn" | "radius", ...)``) search a k-d tree over 3-D unit
vectors. The naive reference computes every great-circle distance with NumPy (row blocks,
O(N^2) work) on a 5,000-point subset; its time is extrapolated to N points by N^2 scaling and
the ratio is printed. Both are run in this process, on this machine, one after the other, and
the two builds are checked to give the same edges on the subset.

Run from the repository root: ``python tools/bench/graph_build.py`` (with stgraph installed,
or ``PYTHONPATH=.``); about a minute on two cores.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable

import numpy as np

from stgraph.graph import IsolatedNodesWarning, SensorGraph, build
from stgraph.graph.geo import haversine

BLOCK = 500


def random_points(n: int, seed: int) -> np.ndarray:
    """Uniform (lon, lat) points over the contiguous United States bounding box."""
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(-125.0, -67.0, n), rng.uniform(25.0, 49.0, n)])


def naive_edges(lonlat: np.ndarray, k: int | None, radius: float | None) -> set[tuple[int, int]]:
    """All-pairs haversine distances, row block by row block; kNN (symmetric) or radius."""
    n = len(lonlat)
    pairs: set[tuple[int, int]] = set()
    for s in range(0, n, BLOCK):
        d = haversine(lonlat[s : s + BLOCK, None, :], lonlat[None, :, :])
        rows = np.arange(s, min(s + BLOCK, n))
        d[rows - s, rows] = np.inf
        if k is not None:
            nbr = np.argpartition(d, k, axis=1)[:, :k]
            src, dst = nbr.reshape(-1), np.repeat(rows, k)
            pairs |= set(zip(src.tolist(), dst.tolist(), strict=True))
            pairs |= set(zip(dst.tolist(), src.tolist(), strict=True))
        else:
            i, j = np.nonzero(d <= radius)
            pairs |= set(zip((i + s).tolist(), j.tolist(), strict=True))
    return pairs


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def edge_set(g: SensorGraph) -> set[tuple[int, int]]:
    return set(map(tuple, g.edge_index.T.tolist()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="points for the tree builders")
    ap.add_argument("--naive-n", type=int, default=5_000, help="points for the naive build")
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--radius-km", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    warnings.simplefilter("ignore", IsolatedNodesWarning)  # sparse radius graphs have some
    big = random_points(args.n, args.seed)
    small = big[: args.naive_n]
    scale = (args.n / args.naive_n) ** 2
    radius = args.radius_km * 1000.0
    cases = {
        f"knn k={args.k}": (dict(kind="knn", k=args.k), dict(k=args.k, radius=None)),
        f"radius {args.radius_km:g} km": (
            dict(kind="radius", radius=radius),
            dict(k=None, radius=radius),
        ),
    }
    print(f"{args.n:,} points (tree builders) vs {args.naive_n:,} points (naive, x{scale:.0f})")
    header = (
        f"{'graph':<16}{'edges':>11}{'stgraph s':>11}{'naive s':>10}{'naive est. s':>14}"
        f"{'speed-up':>10}  same edges"
    )
    print(header)
    for label, (tree_kw, naive_kw) in cases.items():
        kind = tree_kw.pop("kind")
        t_tree, g = timed(lambda kind=kind, kw=tree_kw: build(kind, big, **kw))
        t_naive, ref = timed(lambda kw=naive_kw: naive_edges(small, **kw))
        same = edge_set(build(kind, small, **tree_kw)) == ref
        assert isinstance(g, SensorGraph)
        est = t_naive * scale
        print(
            f"{label:<16}{g.num_edges:>11,}{t_tree:>11.2f}{t_naive:>10.2f}{est:>14.0f}"
            f"{est / t_tree:>9.0f}x  {same}"
        )


if __name__ == "__main__":
    main()
