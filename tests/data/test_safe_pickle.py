"""Restricted unpickling: array pickles load, anything that calls other globals is refused."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from stgraph.data.safe_pickle import load_restricted


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/stgraph-pwned",))


def test_plain_containers_and_arrays_round_trip(tmp_path):
    obj = [["a", "b"], {"a": 0, "b": 1}, np.arange(6, dtype=np.float32).reshape(2, 3)]
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        p = tmp_path / f"ok{protocol}.pkl"
        p.write_bytes(pickle.dumps(obj, protocol=protocol))
        ids, index, adj = load_restricted(p)
        assert ids == ["a", "b"] and index == {"a": 0, "b": 1} and adj.dtype == np.float32
        assert np.array_equal(adj, obj[2])


def test_code_execution_is_refused(tmp_path):
    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps([Evil()]))
    with pytest.raises(ValueError, match=r"global (posix|os)\.system is not allowed"):
        load_restricted(p)
    assert not os.path.exists("/tmp/stgraph-pwned")
    p.write_bytes(pickle.dumps(np.float64))  # a type, not an array: still a foreign global
    with pytest.raises(ValueError, match="is not allowed"):
        load_restricted(p)


def test_garbage_is_a_value_error(tmp_path):
    p = tmp_path / "junk.pkl"
    for data in (b"", b"\x80\x02]q", b"not a pickle at all"):
        p.write_bytes(data)
        with pytest.raises(ValueError, match=r"junk\.pkl"):
            load_restricted(p)


@pytest.mark.realdata
def test_dcrnn_pickles_load(data_root):
    ids, index, adj = load_restricted(data_root / "metr_la_graph/adj_mx.pkl")
    assert len(ids) == 207 and index["773869"] == 0 and adj.shape == (207, 207)
    assert int((adj > 0).sum()) == 1722
