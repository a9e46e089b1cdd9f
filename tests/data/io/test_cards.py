"""Dataset cards: complete, consistent with the loaders, the protocol and the real files."""

from __future__ import annotations

import pytest

from stgraph.cli import main
from stgraph.data import Protocol, list_datasets
from stgraph.data.calendar import parse_freq, seasonal_periods
from stgraph.data.io.cards import card_dir, load_card, sha256_file

REQUIRED = (
    "title",
    "description",
    "task",
    "nodes",
    "steps",
    "frequency",
    "features",
    "units",
    "license",
    "citation",
    "missing",
    "protocol",
)


@pytest.mark.parametrize("entry", list_datasets(), ids=lambda e: e.name)
def test_every_dataset_has_a_complete_card(entry):
    card = entry.card
    missing = [k for k in REQUIRED if k not in card.raw]
    assert not missing, f"{entry.name}: card lacks {missing}"
    assert len(card["features"]) == len(card["units"])
    protocol = Protocol(
        entry.name, **{k: tuple(v) if isinstance(v, list) else v for k, v in card.protocol.items()}
    )
    # the card's step is a frequency stgraph reads, with a seasonal period >= the horizon
    # (seasonal naive then repeats one natural period back)
    periods = seasonal_periods(parse_freq(card["frequency"]))
    assert any(p >= protocol.horizon for p in periods), (card["frequency"], periods)
    for f in card.files:
        assert f.sha256 or f.source, f"{f.path}: unpinned files must say where they come from"
        assert f.url.startswith("https://raw.githubusercontent.com/") or (not f.url and f.source)
        if f.url and "raw.githubusercontent.com" in f.url:
            commit = f.url.split("/")[5]
            assert len(commit) == 40, f"{f.url} must pin a commit"
    for p in card.published:
        assert p.get("source") and p.get("checked"), f"{entry.name}: say where numbers come from"


def test_every_card_file_is_a_registered_dataset():
    names = {e.name for e in list_datasets()}
    assert {p.stem for p in card_dir().glob("*.toml")} == names


@pytest.mark.realdata
def test_shared_checksums_match_the_cards_and_the_files(data_root):
    """Every file of the data folder is declared by a card with the same sha256, and the file
    on disk has that checksum."""
    declared = {}
    for e in list_datasets():
        for f in e.card.files:
            if f.sha256:
                assert declared.setdefault(f.path, f.sha256) == f.sha256
    sums = dict(
        reversed(line.split()) for line in (data_root / "SHA256SUMS").read_text().splitlines()
    )
    assert set(sums) <= set(declared), f"files without a card: {set(sums) - set(declared)}"
    for path, digest in sums.items():
        assert declared[path] == digest
        assert sha256_file(data_root / path) == digest


@pytest.mark.realdata
def test_cli_lists_availability_and_prints_cards(data_root, capsys, monkeypatch):
    monkeypatch.setenv("STGRAPH_DATA", str(data_root))
    assert main(["datasets"]) == 0
    lines = dict(ln.split("\t") for ln in capsys.readouterr().out.splitlines())
    assert lines["aqi36"].endswith("[available]")
    assert lines["metr-la"].endswith("[missing: needs metr_la/metr-la.h5]")
    assert lines["synthetic-traffic"].endswith("[generated]")
    assert main(["datasets", "info", "aqi36"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("aqi36: AQI-36") and "8f77b738ae4c5062" in out
    assert str(data_root / "aqi36/pm25_ground.txt") in out and "published: GRIN" in out
    assert main(["datasets", "info", "nope"]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err


def test_card_name_must_match_its_file(tmp_path, monkeypatch):
    (tmp_path / "x.toml").write_text('name = "y"\n')
    monkeypatch.setattr("stgraph.data.io.cards.card_dir", lambda: tmp_path)
    load_card.cache_clear()
    try:
        with pytest.raises(ValueError, match="does not match"):
            load_card("x")
    finally:
        load_card.cache_clear()
