"""``SensorGraph``: an immutable, validated sensor network.

A sensor graph is the spatial half of every stgraph dataset: node ids (in the node order of
the series), a PyG-style edge list ``(edge_index [2, E], edge_weight [E])`` with
``edge_index[0] = source`` and ``edge_index[1] = target``, optional coordinates with their CRS,
and a directed flag.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from stgraph.graph import normalization as _norm
from stgraph.graph._validate import check_coords, check_edges, check_node_ids, check_symmetric

if TYPE_CHECKING:
    import networkx as nx


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


class SensorGraph:
    """Immutable sensor network.

    Inputs are copied and validated on construction; every accessor returns a copy, so a
    graph can be shared between datasets, models and threads without defensive copies.

    Args:
        node_ids: one unique id per node (converted to ``str``), in series order.
        edge_index: source/target node indices, ``int`` array-like of shape ``[2, E]``.
        edge_weight: non-negative finite weights ``[E]``; ``None`` = all ones.
        coords: optional ``[N, 2]`` coordinates as ``(x, y)``, i.e. ``(lon, lat)`` for
            geographic CRSs. Must be finite.
        crs: CRS of ``coords`` (e.g. ``"EPSG:4326"``); required when ``coords`` is given.
        directed: ``False`` promises that every edge has its reverse with the same weight
            (checked).
        name: optional label used in ``repr`` and error messages.

    Shapes:
        edge_index: [2, E], edge_weight: [E], coords: [N, 2]

    Raises:
        ValueError: duplicate ids, indices out of range, duplicate edges, negative or
            non-finite weights, non-finite coordinates, missing CRS, or ``directed=False``
            with an asymmetric edge list. The message names the offending node/edge.
    """

    __slots__ = ("_coords", "_crs", "_directed", "_ei", "_ew", "_index", "_name", "_node_ids")

    def __init__(
        self,
        node_ids: Iterable[Any],
        edge_index: Any,
        edge_weight: Any = None,
        *,
        coords: Any = None,
        crs: str | None = None,
        directed: bool = True,
        name: str = "graph",
    ) -> None:
        ids = tuple(str(i) for i in node_ids)
        index = check_node_ids(ids, name)
        ei, ew = check_edges(edge_index, edge_weight, ids, name)
        if not directed:
            check_symmetric(ei, ew, ids, name)
        xy = None if coords is None else check_coords(coords, crs, ids, name)
        self._node_ids = ids
        self._index = index
        self._ei = _readonly(ei)
        self._ew = _readonly(ew)
        self._coords = None if xy is None else _readonly(xy)
        self._crs = crs if xy is not None else None
        self._directed = bool(directed)
        self._name = name

    # ------------------------------------------------------------------ accessors
    @property
    def node_ids(self) -> tuple[str, ...]:
        """Node ids in series order."""
        return self._node_ids

    @property
    def num_nodes(self) -> int:
        """Number of nodes ``N``."""
        return len(self._node_ids)

    @property
    def num_edges(self) -> int:
        """Number of stored (directed) edges ``E``."""
        return int(self._ei.shape[1])

    @property
    def edge_index(self) -> Tensor:
        """``[2, E]`` int64 tensor (a copy), sorted by (source, target)."""
        return torch.tensor(self._ei)

    @property
    def edge_weight(self) -> Tensor:
        """``[E]`` float32 tensor (a copy)."""
        return torch.tensor(self._ew)

    @property
    def coords(self) -> np.ndarray | None:
        """``[N, 2]`` float64 read-only array ``(x, y)`` or ``None``."""
        return self._coords

    @property
    def crs(self) -> str | None:
        """CRS of :attr:`coords`."""
        return self._crs

    @property
    def directed(self) -> bool:
        """``False`` when every edge has an equal-weight reverse."""
        return self._directed

    @property
    def name(self) -> str:
        """Label used in messages."""
        return self._name

    def index_of(self, node_id: Any) -> int:
        """Position of ``node_id``; raises ``KeyError`` naming the id when absent."""
        try:
            return self._index[str(node_id)]
        except KeyError:
            raise KeyError(f"{self._name}: unknown node id {node_id!r}") from None

    def __repr__(self) -> str:
        geo = f", crs={self._crs!r}" if self._crs else ""
        kind = "directed" if self._directed else "undirected"
        size = f"nodes={self.num_nodes}, edges={self.num_edges}"
        return f"SensorGraph({self._name!r}, {size}, {kind}{geo})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SensorGraph):
            return NotImplemented
        same_xy = (self._coords is None and other._coords is None) or (
            self._coords is not None
            and other._coords is not None
            and np.array_equal(self._coords, other._coords)
        )
        return (
            self._node_ids == other._node_ids
            and np.array_equal(self._ei, other._ei)
            and np.array_equal(self._ew, other._ew)
            and self._directed == other._directed
            and self._crs == other._crs
            and same_xy
        )

    __hash__ = None  # type: ignore[assignment]

    def replace(self, **changes: Any) -> SensorGraph:
        """A new graph with some constructor arguments changed (validated again)."""
        kw: dict[str, Any] = dict(
            node_ids=self._node_ids,
            edge_index=self._ei,
            edge_weight=self._ew,
            coords=self._coords,
            crs=self._crs,
            directed=self._directed,
            name=self._name,
        )
        kw.update(changes)
        return SensorGraph(**kw)

    # ------------------------------------------------------------------ conversions
    def to_scipy(self) -> sp.csr_matrix:
        """Adjacency ``A`` as ``scipy.sparse.csr_matrix`` (``A[i, j]`` = weight of ``i -> j``).

        Shapes:
            output: [N, N]
        """
        n = self.num_nodes
        return sp.csr_matrix((self._ew, (self._ei[0], self._ei[1])), shape=(n, n))

    def to_dense(self) -> np.ndarray:
        """Dense adjacency ``A`` (float32, ``A[i, j]`` = weight of ``i -> j``).

        Shapes:
            output: [N, N]
        """
        return np.asarray(self.to_scipy().toarray(), dtype=np.float32)

    def to_networkx(self) -> nx.DiGraph | nx.Graph:
        """``networkx`` graph with node attribute ``pos`` (when coordinates exist) and edge
        attribute ``weight``; a ``DiGraph`` when directed, else a ``Graph``."""
        import networkx as nx

        g: nx.Graph = nx.DiGraph() if self._directed else nx.Graph()
        for i, node in enumerate(self._node_ids):
            attrs = {} if self._coords is None else {"pos": tuple(self._coords[i])}
            g.add_node(node, **attrs)
        for (s, t), w in zip(self._ei.T, self._ew, strict=True):
            g.add_edge(self._node_ids[s], self._node_ids[t], weight=float(w))
        g.graph["crs"] = self._crs
        return g

    @classmethod
    def from_scipy(
        cls,
        adj: sp.spmatrix | sp.sparray,
        node_ids: Sequence[Any] | None = None,
        *,
        directed: bool | None = None,
        **kw: Any,
    ) -> SensorGraph:
        """Build from a sparse adjacency ``A`` (``A[i, j]`` = weight of ``i -> j``); explicit
        zeros are dropped, duplicate entries summed. ``directed=None`` infers it from symmetry.

        Shapes:
            adj: [N, N]
        """
        m = sp.coo_matrix(adj)
        if m.shape[0] != m.shape[1]:
            raise ValueError(f"adjacency must be square, got {m.shape}")
        m.sum_duplicates()
        m.eliminate_zeros()
        ids = list(range(m.shape[0])) if node_ids is None else list(node_ids)
        if len(ids) != m.shape[0]:
            raise ValueError(f"{len(ids)} node ids for a {m.shape[0]}x{m.shape[0]} adjacency")
        if directed is None:
            directed = bool((abs(m - m.T) > 0).nnz)
        return cls(ids, np.vstack([m.row, m.col]), m.data, directed=directed, **kw)

    @classmethod
    def from_dense(
        cls,
        adj: Any,
        node_ids: Sequence[Any] | None = None,
        *,
        directed: bool | None = None,
        **kw: Any,
    ) -> SensorGraph:
        """Build from a dense adjacency (array or tensor); zeros mean "no edge".

        Shapes:
            adj: [N, N]
        """
        a = np.asarray(adj.detach().cpu() if isinstance(adj, Tensor) else adj, dtype=np.float64)
        if a.ndim != 2:
            raise ValueError(f"adjacency must be 2-D, got shape {a.shape}")
        if not np.isfinite(a).all():
            i, j = np.argwhere(~np.isfinite(a))[0]
            raise ValueError(f"adjacency entry ({i}, {j}) is {a[i, j]}; expected finite weights")
        return cls.from_scipy(sp.coo_matrix(a), node_ids, directed=directed, **kw)

    @classmethod
    def from_networkx(
        cls,
        g: nx.Graph,
        *,
        weight: str = "weight",
        pos: str = "pos",
        crs: str | None = None,
        **kw: Any,
    ) -> SensorGraph:
        """Build from a ``networkx`` graph; node order = ``g.nodes`` order, missing weights = 1,
        coordinates from the node attribute ``pos`` when every node has one."""
        nodes = list(g.nodes)
        where = {node: i for i, node in enumerate(nodes)}
        edges = list(g.edges(data=weight, default=1.0))
        src = [where[u] for u, _, _ in edges]
        dst = [where[v] for _, v, _ in edges]
        w = [float(d) for _, _, d in edges]
        if not g.is_directed():
            src, dst, w = src + dst, dst + src, w + w
            pairs = {(s, t): x for s, t, x in zip(src, dst, w, strict=True)}  # self-loops once
            src, dst, w = [p[0] for p in pairs], [p[1] for p in pairs], list(pairs.values())
        positions = [g.nodes[node].get(pos) for node in nodes]
        coords = (
            np.array(positions, dtype=float)
            if all(p is not None for p in positions) and nodes
            else None
        )
        crs = crs if crs is not None else g.graph.get("crs")
        return cls(
            nodes,
            np.array([src, dst], dtype=np.int64).reshape(2, -1),
            np.array(w, dtype=np.float32),
            coords=coords,
            crs=crs if coords is not None else None,
            directed=g.is_directed(),
            **kw,
        )

    # ------------------------------------------------------------------ operations
    def normalized(
        self, kind: _norm.Normalization = "sym", self_loops: bool = False
    ) -> SensorGraph:
        """A new graph with normalised weights (see :func:`stgraph.graph.normalization.normalize`).
        ``"sym"`` keeps ``directed`` only when the input was undirected."""
        ei, ew = _norm.normalize(
            self.edge_index, self.edge_weight, self.num_nodes, kind, self_loops
        )
        keep_undirected = (not self._directed) and kind in ("sym", "none")
        return self.replace(edge_index=ei, edge_weight=ew, directed=not keep_undirected)

    def symmetrized(self, reduce: str = "max") -> SensorGraph:
        """Undirected version: ``max(A, A^T)`` (``reduce="max"``), ``(A + A^T) / 2``
        (``"mean"``) or ``A + A^T`` (``"sum"``)."""
        a = self.to_scipy()
        if reduce == "max":
            s = a.maximum(a.T)
        elif reduce == "mean":
            s = (a + a.T) * 0.5
        elif reduce == "sum":
            s = a + a.T
        else:
            raise ValueError(f"reduce must be 'max', 'mean' or 'sum', got {reduce!r}")
        return SensorGraph.from_scipy(
            s, self._node_ids, directed=False, coords=self._coords, crs=self._crs, name=self._name
        )

    def subgraph(self, nodes: Sequence[Any]) -> SensorGraph:
        """Induced subgraph on ``nodes`` (ids, or ``int`` positions), in the given order.

        Shapes:
            output: [len(nodes)] nodes, coordinates kept.
        """
        pos = [int(v) if isinstance(v, (int, np.integer)) else self.index_of(v) for v in nodes]
        if len(set(pos)) != len(pos):
            raise ValueError(f"{self._name}: subgraph nodes contain duplicates")
        for p in pos:
            if not 0 <= p < self.num_nodes:
                raise ValueError(f"{self._name}: node position {p} outside [0, {self.num_nodes})")
        remap = np.full(self.num_nodes, -1, dtype=np.int64)
        remap[pos] = np.arange(len(pos))
        s, t = remap[self._ei[0]], remap[self._ei[1]]
        keep = (s >= 0) & (t >= 0)
        return SensorGraph(
            [self._node_ids[p] for p in pos],
            np.vstack([s[keep], t[keep]]),
            self._ew[keep],
            coords=None if self._coords is None else self._coords[pos],
            crs=self._crs,
            directed=self._directed,
            name=self._name,
        )

    def isolated_nodes(self) -> list[str]:
        """Ids of nodes with no edge other than a self-loop."""
        off = self._ei[0] != self._ei[1]
        touched = np.zeros(self.num_nodes, dtype=bool)
        touched[self._ei[0][off]] = True
        touched[self._ei[1][off]] = True
        return [self._node_ids[i] for i in np.flatnonzero(~touched)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description (ids, edges, weights, coords, crs, directed)."""
        return {
            "name": self._name,
            "node_ids": list(self._node_ids),
            "edge_index": self._ei.tolist(),
            "edge_weight": self._ew.tolist(),
            "coords": None if self._coords is None else self._coords.tolist(),
            "crs": self._crs,
            "directed": self._directed,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SensorGraph:
        """Inverse of :meth:`to_dict`."""
        return cls(
            d["node_ids"],
            np.asarray(d["edge_index"], dtype=np.int64).reshape(2, -1),
            d["edge_weight"],
            coords=d.get("coords"),
            crs=d.get("crs"),
            directed=d.get("directed", True),
            name=d.get("name", "graph"),
        )
