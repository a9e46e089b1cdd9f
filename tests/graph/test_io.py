"""Safe readers: restricted unpickling, DCRNN pickles, distance tables, id lists."""

from __future__ import annotations

import builtins
import pickle

import numpy as np
import pytest

from stgraph.graph.io import (
    read_dcrnn_adj_pickle,
    read_distance_table,
    read_sensor_ids,
    safe_load_pickle,
)


class Exploit:
    """A pickle payload that would write a file when unpickled by ``pickle.load``."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (builtins.exec, (f"open({self.target!r}, 'w').write('owned')",))


def test_restricted_unpickler_refuses_code_execution(tmp_path):
    marker = tmp_path / "marker.txt"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps([["a"], {"a": 0}, Exploit(str(marker))], protocol=2))
    refused = r"refusing to load global (__builtin__|builtins)\.exec"
    with pytest.raises(pickle.UnpicklingError, match=refused):
        safe_load_pickle(path)
    assert not marker.exists()
    sneaky = tmp_path / "codec.pkl"  # the bytes helper is allowed, other codecs are not
    sneaky.write_bytes(b"c_codecs\nencode\n(Vx\nVrot13\ntR.")
    with pytest.raises(pickle.UnpicklingError, match="encoding 'rot13'"):
        safe_load_pickle(sneaky)


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_dcrnn_style_pickles_round_trip(tmp_path, protocol):
    ids = ["773869", "767541", "767542"]
    adj = np.arange(9, dtype=np.float32).reshape(3, 3)
    path = tmp_path / "adj.pkl"
    path.write_bytes(pickle.dumps([ids, {s: i for i, s in enumerate(ids)}, adj], protocol=protocol))
    got_ids, index, got = read_dcrnn_adj_pickle(path)
    assert got_ids == ids and index == {"773869": 0, "767541": 1, "767542": 2}
    np.testing.assert_array_equal(got, adj)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"ids": []}, r"expected \[sensor_ids, id_to_index, adj\]"),
        ([["a", "b"], {"a": 0, "b": 1}, np.zeros((3, 3))], r"adjacency is \(3, 3\) for 2"),
        ([["a", "b"], {"a": 1, "b": 0}, np.zeros((2, 2))], "disagrees with the id list"),
    ],
)
def test_malformed_dcrnn_pickles_are_explained(tmp_path, payload, message):
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps(payload))
    with pytest.raises(ValueError, match=message):
        read_dcrnn_adj_pickle(path)


def test_distance_tables_with_and_without_header(tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text("400001,400001,0.0\n400001,400017,1500.5\n")
    headed = tmp_path / "headed.csv"
    headed.write_text("from,to,distance\n400001,400001,0.0\n400001,400017,1500.5\n")
    a, b = read_distance_table(plain), read_distance_table(headed)
    assert list(a.columns) == ["from", "to", "cost"] and len(a) == len(b) == 2
    assert a["from"].tolist() == b["from"].tolist() == ["400001", "400001"]
    assert a["cost"].tolist() == b["cost"].tolist() == [0.0, 1500.5]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("from,to,cost\n1,2,5\n2,3,-1\n", r"line 3: cost '-1' is not a finite number >= 0"),
        ("1,2,5\n2,3,far\n", r"line 2: cost 'far' is not a finite number"),
        ("1,2\n", "expected 3 columns"),
        ("1,2,5\n2,9,3\n", r"line 2 names sensor '9', which is not in the id list"),
    ],
)
def test_bad_distance_tables_name_the_line(tmp_path, text, message):
    path = tmp_path / "table.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_distance_table(path, ids=["1", "2", "3"])


def test_unknown_ids_can_be_dropped_explicitly(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("1,2,5\n2,9,3\n9,1,4\n")
    kept = read_distance_table(path, ids=[1, 2, 3], unknown="drop")
    assert kept[["from", "to"]].values.tolist() == [["1", "2"]]


def test_sensor_id_lists(tmp_path):
    lines, commas = tmp_path / "a.txt", tmp_path / "b.txt"
    lines.write_text("313344\n313349\n\n")
    commas.write_text("313344,313349")
    assert read_sensor_ids(lines) == read_sensor_ids(commas) == ["313344", "313349"]
    lines.write_text("1\n2\n1\n")
    with pytest.raises(ValueError, match="duplicate sensor id '1' at rows 0 and 2"):
        read_sensor_ids(lines)
