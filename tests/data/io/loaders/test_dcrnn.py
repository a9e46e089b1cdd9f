"""DCRNN files: real sensor graphs (safe unpickling, distances, locations) and the h5 series
reader on a file written in DCRNN's exact pandas-HDF5 layout."""

from __future__ import annotations

import os
import pickle

import h5py
import numpy as np
import pandas as pd
import pytest

from stgraph.data import load_dataset
from stgraph.data.io.loaders.dcrnn import (
    dcrnn_series,
    distance_graph,
    load_metr_la_graph,
    load_pems_bay_graph,
    read_adj_mx,
)

pytestmark = [
    pytest.mark.realdata,
    # the released graphs leave some sensors without links; the builders say so
    pytest.mark.filterwarnings("ignore::stgraph.graph.IsolatedNodesWarning"),
]


def write_dcrnn_h5(path, key, ids, index, values, int_ids=False):
    """A frame written the way ``DataFrame.to_hdf(path, key)`` (fixed format) lays it out."""
    with h5py.File(path, "w") as f:
        g = f.create_group(key)
        g.attrs["pandas_type"] = b"frame"
        labels = np.array([int(i) for i in ids]) if int_ids else np.array(ids, dtype="S")
        g["axis0"] = labels
        g["axis1"] = index.asi8 if index.unit == "ns" else index.as_unit("ns").asi8
        g["axis1"].attrs["kind"] = b"datetime64"
        g["block0_items"] = labels
        g["block0_values"] = values


def test_metr_la_graph_matches_the_release(data_root):
    g = load_metr_la_graph(data_root)
    assert g.num_nodes == 207 and g.num_edges == 1722 and g.directed
    assert g.node_ids[:2] == ("773869", "767541") and g.crs == "EPSG:4326"
    assert np.allclose(g.coords[0], [-118.31829, 34.15497])
    _, adj = read_adj_mx(data_root / "metr_la_graph/adj_mx.pkl")
    assert np.allclose(g.to_dense(), adj) and np.diag(adj).tolist() == [1.0] * 207
    listed = (data_root / "metr_la_graph/graph_sensor_ids.txt").read_text().strip().split(",")
    assert list(g.node_ids) == listed  # the pickle's order is DCRNN's sensor-id order


def test_pems_bay_distances_reproduce_the_released_adjacency(data_root):
    g = load_pems_bay_graph(data_root)
    assert g.num_nodes == 325 and g.num_edges == 2694
    assert np.allclose(g.coords[0], [-121.901149, 37.364085])
    ids, adj = read_adj_mx(data_root / "pems_bay_graph/adj_mx_bay.pkl")
    rebuilt = distance_graph(ids, data_root / "pems_bay_graph/distances_bay_2017.csv")
    assert rebuilt.num_edges == 2694 and np.abs(rebuilt.to_dense() - adj).max() < 1e-6  # DCRNN


@pytest.mark.parametrize(
    "name,path,key,int_ids",
    [
        ("metr-la", "metr_la/metr-la.h5", "df", False),
        ("pems-bay", "pems_bay/pems-bay.h5", "speed", True),
    ],
)
def test_h5_series_zeros_and_gaps_are_masked(
    data_root, tmp_path, monkeypatch, name, path, key, int_ids
):
    monkeypatch.setenv("STGRAPH_DATA", str(data_root))  # graph files come from the real root
    graph = load_pems_bay_graph(data_root) if int_ids else load_metr_la_graph(data_root)
    ids = list(graph.node_ids)[::-1]  # column order differs from the graph's
    index = pd.date_range("2017-01-01", periods=300, freq="5min").delete([100, 101])  # 2 gaps
    rng = np.random.default_rng(0)
    values = rng.uniform(10, 70, (len(index), len(ids)))
    values[5, 3] = 0.0  # a dropped reading
    (tmp_path / path).parent.mkdir()
    write_dcrnn_h5(tmp_path / path, key, ids, index, values, int_ids)
    d = load_dataset(name, tmp_path)
    assert tuple(d.values.shape) == (300, graph.num_nodes, 1)
    assert d.graph.node_ids == graph.node_ids
    j = graph.node_ids.index(ids[3])
    assert (
        not d.mask[5, j, 0]
        and not d.mask[100:102].any()
        and int((~d.mask).sum()) == (1 + 2 * graph.num_nodes)
    )
    assert float(d.values[0, j, 0]) == pytest.approx(values[0, 3])


def test_h5_layout_errors_name_the_problem(data_root, tmp_path):
    graph = load_metr_la_graph(data_root)
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f.create_group("df")["axis0"] = np.array(graph.node_ids, dtype="S")
    with pytest.raises(ValueError, match=r"missing \['axis1'"):
        dcrnn_series(tmp_path / "bad.h5", graph, "x")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        dcrnn_series(tmp_path / "text.h5", graph, "x")
    index = pd.date_range("2012-03-01", periods=3, freq="5min")
    write_dcrnn_h5(tmp_path / "few.h5", "df", graph.node_ids[:5], index, np.ones((3, 5)))
    with pytest.raises(ValueError, match="sensors differ"):
        dcrnn_series(tmp_path / "few.h5", graph, "x")


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/stgraph-pwned",))


def test_adjacency_pickles_are_read_safely(tmp_path):
    p = tmp_path / "adj_mx.pkl"
    p.write_bytes(pickle.dumps([["a"], {"a": 0}, Evil()], protocol=2))
    with pytest.raises(ValueError, match=r"adj_mx\.pkl.*(posix|os)\.system"):
        read_adj_mx(p)
    assert not os.path.exists("/tmp/stgraph-pwned")
    for junk in (b"", b"\x80\x02]q", b"not a pickle"):
        p.write_bytes(junk)
        with pytest.raises(ValueError, match=r"adj_mx\.pkl"):
            read_adj_mx(p)
    adj = np.eye(2, dtype=np.float32)
    p.write_bytes(pickle.dumps([["a", "b"], {"a": 0, "b": 1}, adj], protocol=5))
    assert read_adj_mx(p)[0] == ["a", "b"] and np.array_equal(read_adj_mx(p)[1], adj)


def test_metr_la_needs_its_series_file(data_root):
    with pytest.raises(FileNotFoundError, match=r"metr-la\.h5 not found.*DCRNN"):
        load_dataset("metr-la", data_root)
