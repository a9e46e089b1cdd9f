"""PyTorch Geometric Temporal JSON sets: chickenpox, PedalMe, England COVID, Montevideo bus.

The JSON files carry no dates: timestamps are nominal (start and step from the card). The
values are stored as released (chickenpox and PedalMe are already standardised upstream).
England COVID has a different mobility graph every day: it is kept as
:class:`~stgraph.data.temporal_edges.TemporalEdges` and the static ``graph`` is day 0's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from stgraph.data.io.loaders._common import build_dataset, open_card
from stgraph.data.io.readers import as_array, json_field, read_json
from stgraph.data.io.registry import register_dataset
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.data.temporal_edges import TemporalEdges
from stgraph.graph import SensorGraph


def edge_pairs(value: Any, what: str, num_nodes: int) -> np.ndarray:
    """``[[src, dst], ...]`` as an edge index with every node index in ``[0, num_nodes)``.

    Shapes:
        output: [2, E] int64
    """
    pairs = (
        as_array(value, what, ndim=2, dtype=np.int64, shape=(None, 2))
        if len(value)
        else (np.zeros((0, 2), dtype=np.int64))
    )
    bad = np.flatnonzero(((pairs < 0) | (pairs >= num_nodes)).any(1))
    if bad.size:
        raise ValueError(
            f"{what}: edge {pairs[bad[0]].tolist()} names a node outside [0, {num_nodes})"
        )
    return pairs.T.copy()


def _series(obj: Any, key: str, path: Path) -> np.ndarray:
    """A ``[T, N]`` numeric series stored under ``key`` -> ``[T, N, 1]``."""
    return as_array(json_field(obj, key, path, list), f"{path}: {key!r}", ndim=2)[..., None]


def read_pgt_static(
    path: Path, key: str, weights_key: str | None, name: str
) -> tuple[np.ndarray, SensorGraph]:
    """Chickenpox / PedalMe layout: a ``[T, N]`` series under ``key``, ``edges`` ``[E, 2]``,
    optional ``weights_key`` ``[E]`` and optional ``node_ids`` ``{name: index}``.

    Shapes:
        output: values [T, N, 1], graph with N nodes
    """
    obj = read_json(path)
    values = _series(obj, key, path)
    n = values.shape[1]
    ei = edge_pairs(json_field(obj, "edges", path, list), f"{path}: 'edges'", n)
    ew = None
    if weights_key is not None:
        ew = as_array(
            json_field(obj, weights_key, path, list),
            f"{path}: {weights_key!r}",
            ndim=1,
            shape=(ei.shape[1],),
        )
    ids: list[str] = [str(i) for i in range(n)]
    if "node_ids" in obj:
        names = json_field(obj, "node_ids", path, dict)
        idx = list(names.values())
        if not all(type(i) is int for i in idx) or sorted(idx) != list(range(n)):
            raise ValueError(f"{path}: 'node_ids' must map {n} names to 0..{n - 1}")
        ids = sorted(names, key=names.__getitem__)
    return values, SensorGraph(ids, ei, ew, directed=True, name=name)


def _static(
    name: str, key: str, data_dir: str | Path | None, weights_key: str | None
) -> SpatioTemporalData:
    card, files = open_card(name, data_dir)
    values, graph = read_pgt_static(files[card.files[0].path], key, weights_key, name)
    return build_dataset(card, values, graph)


@register_dataset("chickenpox", "Hungary chickenpox (PGT), 20 counties, weekly, 521 weeks")
def load_chickenpox(data_dir: str | Path | None = None) -> SpatioTemporalData:
    """Weekly chickenpox cases per Hungarian county (z-scored per county upstream) on the county
    adjacency graph (102 directed edges incl. self-loops).

    Shapes:
        values: [521, 20, 1]
    """
    return _static("chickenpox", "FX", data_dir, None)


@register_dataset("pedalme", "PedalMe London deliveries (PGT), 15 regions, weekly, 35 weeks")
def load_pedalme(data_dir: str | Path | None = None) -> SpatioTemporalData:
    """Weekly PedalMe bicycle-delivery demand per London region (transformed upstream) on a
    weighted region graph (225 edges).

    Shapes:
        values: [35, 15, 1]
    """
    return _static("pedalme", "X", data_dir, "weights")


@register_dataset(
    "england-covid", "England COVID-19 cases (PGT), 129 NUTS3 regions, daily, time-varying graph"
)
def load_england_covid(data_dir: str | Path | None = None) -> SpatioTemporalData:
    """Daily new COVID-19 cases per English NUTS3 region with a daily Facebook-mobility graph
    (directed, weight = people moving between regions that day).

    Shapes:
        values: [61, 129, 1]; temporal_edges: 61 steps
    """
    card, files = open_card("england-covid", data_dir)
    values, temporal = read_england_covid(files["pgt/england_covid.json"])
    ei, ew = temporal.at(0)
    graph = SensorGraph(range(values.shape[1]), ei, ew, directed=True, name="england-covid")
    return build_dataset(card, values, graph, temporal_edges=temporal)


def read_england_covid(path: Path) -> tuple[np.ndarray, TemporalEdges]:
    """England COVID layout: ``y`` ``[T, N]`` and ``edge_mapping.edge_index[str(t)]`` /
    ``edge_mapping.edge_weight[str(t)]`` for every day ``t``.

    Shapes:
        output: values [T, N, 1], temporal edges over T steps
    """
    obj = read_json(path)
    values = _series(obj, "y", path)
    t, n = values.shape[:2]
    mapping = json_field(obj, "edge_mapping", path, dict)
    index = json_field(mapping, "edge_index", path, dict)
    weight = json_field(mapping, "edge_weight", path, dict)
    steps = []
    for day in range(t):
        what = f"{path}: edge_mapping[*][{str(day)!r}]"
        if str(day) not in index or str(day) not in weight:
            raise ValueError(f"{what}: no edges for day {day}")
        if not isinstance(index[str(day)], list) or not isinstance(weight[str(day)], list):
            raise ValueError(f"{what}: edges and weights must be lists")
        ei = edge_pairs(index[str(day)], what, n)
        ew = as_array(weight[str(day)], what, ndim=1, shape=(ei.shape[1],))
        steps.append((ei, ew))
    return values, TemporalEdges.from_steps(steps, n)


@register_dataset(
    "montevideo-bus", "Montevideo bus-stop passenger inflow (PGT), 675 stops, hourly, Oct 2020"
)
def load_montevideo_bus(data_dir: str | Path | None = None) -> SpatioTemporalData:
    """Hourly passenger inflow at 675 bus stops (networkx node-link JSON). Links are directed;
    their road distance ``d`` (metres) becomes the weight ``exp(-d^2 / sigma^2)`` with
    ``sigma`` the std of the link distances. Coordinates are UTM zone 21S (EPSG:32721).

    Shapes:
        values: [744, 675, 1] (passengers per hour)
    """
    card, files = open_card("montevideo-bus", data_dir)
    values, graph = read_montevideo_bus(files["pgt/montevideo_bus.json"])
    return build_dataset(card, values, graph)


def read_montevideo_bus(path: Path) -> tuple[np.ndarray, SensorGraph]:
    """networkx node-link JSON: ``nodes`` (``id``, ``lon``, ``lat``, series ``y``) and ``links``
    (``source``, ``target``, road distance ``weight``).

    Shapes:
        output: values [T, N, 1], graph with N nodes
    """
    obj = read_json(path)
    nodes = json_field(obj, "nodes", path, list)
    links = json_field(obj, "links", path, list)
    if not nodes:
        raise ValueError(f"{path}: no nodes")
    ids, series, coords = [], [], []
    for i, node in enumerate(nodes):
        what = f"{path}: nodes[{i}]"
        ids.append(str(json_field(node, "id", what, (int, str))))
        series.append(as_array(json_field(node, "y", what, list), f"{what}.y", ndim=1))
        coords.append([json_field(node, k, what, (int, float)) for k in ("lon", "lat")])
    lengths = {len(s) for s in series}
    if len(lengths) != 1:
        raise ValueError(f"{path}: nodes have series of different lengths {sorted(lengths)[:5]}")
    pos = {k: i for i, k in enumerate(ids)}
    src, dst, dist = [], [], []
    for j, link in enumerate(links):
        what = f"{path}: links[{j}]"
        s, d = (str(json_field(link, k, what, (int, str))) for k in ("source", "target"))
        if s not in pos or d not in pos:
            raise ValueError(f"{what}: link {s} -> {d} names an unknown bus stop")
        src.append(pos[s])
        dst.append(pos[d])
        dist.append(float(json_field(link, "weight", what, (int, float))))
    d_arr = np.asarray(dist)
    if (d_arr < 0).any() or not np.isfinite(d_arr).all():
        raise ValueError(f"{path}: link distances must be finite and >= 0")
    w = np.exp(-np.square(d_arr / (float(d_arr.std()) or 1.0))) if d_arr.size else d_arr
    graph = SensorGraph(
        ids,
        np.array([src, dst], dtype=np.int64).reshape(2, -1),
        w,
        coords=np.asarray(coords, dtype=np.float64),
        crs="EPSG:32721",
        name="montevideo-bus",
    )
    return np.stack(series, axis=1)[..., None], graph
