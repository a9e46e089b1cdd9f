"""Downloads against a loopback HTTP server started by the test (never the internet): fresh
download, resume with HTTP Range, servers that ignore Range, checksum failures that leave no
file, offline errors, and ``stgraph datasets download``."""

from __future__ import annotations

import hashlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stgraph.cli import main
from stgraph.data import load_dataset
from stgraph.data.io.cards import DatasetCard, load_card
from stgraph.data.io.download import DownloadError, download_file

PAYLOAD = bytes(range(256)) * 300  # 76,800 bytes
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class Server:
    """Serves ``files`` (path -> bytes); can cut a response short or ignore Range."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {"/data.bin": PAYLOAD}
        self.cut_after: int | None = None
        self.honour_range = True
        self.ranges: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                rng = self.headers.get("Range")
                server.ranges.append(rng)
                start = 0
                if rng and server.honour_range:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                chunk = body[start:]
                if server.cut_after is not None:
                    self.wfile.write(chunk[: server.cut_after])
                    self.wfile.flush()
                    server.cut_after = None
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(chunk)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def test_fresh_download_is_verified_and_atomic(server, tmp_path):
    dest = tmp_path / "cache" / "sub" / "data.bin"
    seen = []
    assert download_file(f"{server.url}/data.bin", dest, SHA, progress=seen.append) == dest
    assert dest.read_bytes() == PAYLOAD and seen[-1] == len(PAYLOAD)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["data.bin"]  # no .part left
    download_file(f"{server.url}/data.bin", dest, SHA)  # already there: no request
    assert len(server.ranges) == 1


def test_interrupted_download_resumes_with_range(server, tmp_path):
    dest = tmp_path / "data.bin"
    server.cut_after = 10_000
    with pytest.raises(DownloadError, match=r"interrupted after 10000 bytes.*resumes"):
        download_file(f"{server.url}/data.bin", dest, SHA, timeout=5)
    part = tmp_path / "data.bin.part"
    assert not dest.exists() and part.stat().st_size == 10_000
    download_file(f"{server.url}/data.bin", dest, SHA, timeout=5)
    assert server.ranges[-1] == "bytes=10000-" and dest.read_bytes() == PAYLOAD
    assert not part.exists()


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    (tmp_path / "data.bin.part").write_bytes(b"garbage-prefix")
    server.honour_range = False
    download_file(f"{server.url}/data.bin", tmp_path / "data.bin", SHA)
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD


def test_complete_part_file_is_finished_without_a_body(server, tmp_path):
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD)
    download_file(f"{server.url}/data.bin", tmp_path / "data.bin", SHA)  # server answers 416
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD


def test_bad_checksum_leaves_no_file(server, tmp_path):
    server.files["/data.bin"] = PAYLOAD[:-1] + b"\x00"  # corrupted upstream
    with pytest.raises(ValueError, match=r"checksum mismatch.*deleted"):
        download_file(f"{server.url}/data.bin", tmp_path / "data.bin", SHA)
    assert list(tmp_path.iterdir()) == []


def test_offline_and_http_errors_are_clear(server, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(DownloadError, match=r"cannot reach .* are you offline"):
        download_file(f"http://127.0.0.1:{port}/x", tmp_path / "x", SHA, timeout=2)
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_file(f"{server.url}/missing.bin", tmp_path / "m", SHA)
    with pytest.raises(ValueError, match="only http"):
        download_file("file:///etc/passwd", tmp_path / "p", SHA)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.realdata
def test_cli_downloads_a_dataset_into_the_cache(server, tmp_path, monkeypatch, capsys, data_root):
    real = load_card("chickenpox")
    body = (data_root / "pgt/chickenpox.json").read_bytes()
    server.files["/chickenpox.json"] = body
    files = [dict(real.raw["files"][0], url=f"{server.url}/chickenpox.json")]
    card = DatasetCard("chickenpox", dict(real.raw, files=files))
    monkeypatch.setattr("stgraph.data.io.download.load_card", lambda name: card)
    monkeypatch.delenv("STGRAPH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cache = tmp_path / "xdg" / "stgraph"
    assert main(["datasets", "download", "chickenpox"]) == 0
    assert "downloaded" in capsys.readouterr().out
    assert (cache / "pgt/chickenpox.json").read_bytes() == body
    assert load_dataset("chickenpox").num_steps == 521  # found in the cache, checksum verified
    assert main(["datasets", "download", "chickenpox"]) == 0
    assert "present" in capsys.readouterr().out and len(server.ranges) == 1


def test_cli_download_reports_files_without_a_url(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("STGRAPH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    card = load_card("metr-la")
    only_h5 = DatasetCard("metr-la", dict(card.raw, files=card.raw["files"][:1]))
    monkeypatch.setattr("stgraph.data.io.download.load_card", lambda name: only_h5)
    assert main(["datasets", "download", "metr-la"]) == 3
    assert "manual" in capsys.readouterr().out and "DCRNN README" in card.files[0].source
