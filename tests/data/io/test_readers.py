"""Shared readers: clear errors naming file/line/column, and hypothesis fuzzing of the CSV and
JSON readers the loaders use (malformed rows, wrong types, missing columns, empty files): only
``ValueError``s, never a crash inside pandas/NumPy/torch, and no file left behind."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stgraph.data.io.loaders.air_quality import (
    BEIJING_NUMERIC,
    _aqi36_stations,
    _aqi36_table,
    read_beijing_station,
)
from stgraph.data.io.loaders.dcrnn import read_adj_mx, read_sensor_locations
from stgraph.data.io.loaders.noaa import read_noaa_matrix, read_noaa_times
from stgraph.data.io.loaders.pgt import read_england_covid, read_montevideo_bus, read_pgt_static
from stgraph.data.io.readers import (
    as_array,
    json_field,
    read_csv,
    read_json,
    read_npz,
    read_numeric_matrix,
)

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def only_value_errors(reader: Callable[[Path], Any], content: str | bytes, name: str) -> None:
    """Run ``reader`` on a file holding ``content``: it may succeed or raise ``ValueError``;
    anything else fails. The folder must hold exactly the input file afterwards."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        try:
            reader(path)
        except ValueError as e:
            assert str(e)  # a message, not a bare exception
        assert sorted(p.name for p in Path(d).iterdir()) == [name]


# ---------------------------------------------------------------------------- clear errors
def test_numeric_matrix_names_the_bad_cell(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("a,b\n1,2\n3,x\n")
    with pytest.raises(ValueError, match=r"m\.csv: line 3, column 'b': 'x' is not a finite number"):
        read_numeric_matrix(p, header=True)
    p.write_text("1,2\n3,inf\n")
    with pytest.raises(ValueError, match=r"line 2, field 2: 'inf'"):
        read_numeric_matrix(p, header=False)
    p.write_text("1,,3\n")
    ids, v = read_numeric_matrix(p, header=False)
    assert ids is None and np.isnan(v[0, 1]) and v[0, 2] == 3


def test_empty_and_missing_columns_are_reported(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("")
    with pytest.raises(ValueError, match=r"e\.csv: cannot parse"):
        read_csv(p)
    p.write_text("a,b\n")
    with pytest.raises(ValueError, match="no data rows"):
        read_csv(p)
    p.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['c'\]"):
        read_csv(p, columns=["a", "c"])


def test_json_helpers(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"a": [1, 2,]}')
    with pytest.raises(ValueError, match=r"x\.json: invalid JSON at line 1, column"):
        read_json(p)
    assert json_field({"a": [1]}, "a", p, list) == [1]
    with pytest.raises(ValueError, match="missing key 'b'"):
        json_field({"a": 1}, "b", p, list)
    with pytest.raises(ValueError, match="'a' must be a list, got int"):
        json_field({"a": 1}, "a", p, list)
    with pytest.raises(ValueError, match="rectangular array"):
        as_array([[1, 2], [3]], "ragged", ndim=2)
    with pytest.raises(ValueError, match="whole numbers"):
        as_array([0.5], "idx", ndim=1, dtype=np.int64)


def test_npz_never_unpickles(tmp_path):
    p = tmp_path / "o.npz"
    np.savez(p, data=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match=r"o\.npz"):
        read_npz(p, ["data"])
    np.savez(p, other=np.zeros(2))
    with pytest.raises(ValueError, match=r"missing array\(s\) \['data'\]"):
        read_npz(p, ["data"])


# ---------------------------------------------------------------------------- CSV fuzzing
cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(["", "NA", "N", "NNW", "x", "-9999", "1e400", '"', "1,2", " ", "\t", "nan"]),
    st.text(max_size=6),
)
rows = st.lists(st.lists(cells, min_size=0, max_size=6), min_size=0, max_size=6)


def _csv(header: list[str], body: list[list[str]]) -> str:
    return "\n".join([",".join(header), *(",".join(r) for r in body)])


@FUZZ
@given(body=rows, drop=st.integers(0, 17))
def test_fuzz_beijing_station_csv(body, drop):
    header = ["No", "year", "month", "day", "hour", *BEIJING_NUMERIC[:-1], "wd", "WSPM", "station"]
    header = header[:drop] + header[drop + 1 :]  # one column missing
    only_value_errors(read_beijing_station, _csv(header, body), "b.csv")
    good = ["1", "2013", "3", "1", "0", *["1"] * 10, "NNW", "4.4", "S"]
    only_value_errors(read_beijing_station, _csv([*header, "x"], [good, *body]), "b.csv")


@FUZZ
@given(
    body=rows, header=st.lists(st.sampled_from(["datetime", "001001", "001002", "x"]), max_size=4)
)
def test_fuzz_aqi36_tables(body, header):
    def read(path: Path) -> Any:
        table = _aqi36_table(path)
        return _aqi36_stations(path, list(table.columns[1:]))

    only_value_errors(read, _csv(header, body), "pm25.txt")


@FUZZ
@given(body=rows, sep=st.sampled_from([",", " ", "\t"]))
def test_fuzz_matrix_style_readers(body, sep):
    text = "\n".join(sep.join(r) for r in body)
    for reader in (read_noaa_matrix, read_noaa_times, read_adj_mx):
        only_value_errors(reader, text, "m.dat")
    only_value_errors(lambda p: read_sensor_locations(p, ["1", "2"]), text, "loc.csv")


@FUZZ
@given(data=st.binary(max_size=200))
def test_fuzz_binary_garbage(data):
    for reader in (read_noaa_matrix, read_json, lambda p: read_numeric_matrix(p, header=True)):
        only_value_errors(reader, data, "g.bin")


# ---------------------------------------------------------------------------- JSON fuzzing
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 30)
    | st.floats(allow_nan=False)
    | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=20,
)


def _mutate(obj: dict, key: str, value: Any) -> str:
    out = dict(obj)
    if value == "<drop>":
        out.pop(key, None)
    else:
        out[key] = value
    return json.dumps(out)


CHICKENPOX = {"edges": [[0, 1], [1, 0]], "node_ids": {"A": 0, "B": 1}, "FX": [[0.1, 0.2]] * 5}
COVID = {
    "y": [[1, 2], [3, 4]],
    "time_periods": 2,
    "edge_mapping": {
        "edge_index": {"0": [[0, 1]], "1": [[1, 0]]},
        "edge_weight": {"0": [1.0], "1": [2.0]},
    },
}
BUS = {
    "directed": True,
    "nodes": [
        {"id": 1, "lon": 0, "lat": 0, "y": [0, 1]},
        {"id": 2, "lon": 1, "lat": 1, "y": [2, 3]},
    ],
    "links": [{"source": 1, "target": 2, "weight": 10.0}],
}


@FUZZ
@given(
    value=st.one_of(json_values, st.just("<drop>")),
    key=st.sampled_from(["edges", "node_ids", "FX"]),
)
def test_fuzz_pgt_static_json(value, key):
    only_value_errors(
        lambda p: read_pgt_static(p, "FX", None, "x"), _mutate(CHICKENPOX, key, value), "c.json"
    )


@FUZZ
@given(
    value=st.one_of(json_values, st.just("<drop>")),
    key=st.sampled_from(["y", "edge_mapping"]),
    day=st.sampled_from(["0", "1"]),
)
def test_fuzz_england_covid_json(value, key, day):
    only_value_errors(read_england_covid, _mutate(COVID, key, value), "e.json")
    nested = json.loads(json.dumps(COVID))
    nested["edge_mapping"]["edge_index"][day] = value
    only_value_errors(read_england_covid, json.dumps(nested), "e.json")


@FUZZ
@given(
    value=st.one_of(json_values, st.just("<drop>")),
    node_key=st.sampled_from(["id", "lon", "lat", "y"]),
    link_key=st.sampled_from(["source", "target", "weight"]),
)
def test_fuzz_montevideo_json(value, node_key, link_key):
    for part, key in (("nodes", node_key), ("links", link_key)):
        obj = json.loads(json.dumps(BUS))
        entry = obj[part][0]
        if value == "<drop>":
            entry.pop(key)
        else:
            entry[key] = value
        only_value_errors(read_montevideo_bus, json.dumps(obj), "m.json")


def test_valid_json_layouts_parse():
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "c.json"
        p.write_text(json.dumps(CHICKENPOX))
        values, graph = read_pgt_static(p, "FX", None, "x")
        assert values.shape == (5, 2, 1) and graph.node_ids == ("A", "B")
        p.write_text(json.dumps(COVID))
        v, te = read_england_covid(p)
        assert v.shape == (2, 2, 1) and te.at(1)[0].tolist() == [[1], [0]]
        p.write_text(json.dumps(BUS))
        v, g = read_montevideo_bus(p)
        assert v[:, :, 0].tolist() == [[0, 2], [1, 3]] and g.num_edges == 1
