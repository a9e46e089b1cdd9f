"""Download dataset files into the cache, verified by sha256, resumable, atomic.

A file is streamed into ``<dest>.part`` next to its destination; an interrupted transfer keeps
the ``.part`` and the next call resumes it with an HTTP ``Range`` request. Only a file whose
sha256 matches the card is renamed onto its final name; a mismatch deletes the ``.part`` and
raises, so a corrupted download never leaves a file behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stgraph.data.io.cards import CardFile, DatasetCard, find_file, load_card, sha256_file
from stgraph.data.io.paths import data_roots, default_cache_dir

log = logging.getLogger("stgraph.download")
CHUNK = 1 << 16


class DownloadError(ConnectionError):
    """The server could not be reached or the transfer broke off (a ``.part`` may remain)."""


def _hash_prefix(path: Path) -> Any:
    h = hashlib.sha256()
    if path.exists():
        with path.open("rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
    return h


def _open(url: str, offset: int, timeout: float) -> tuple[Any, bool]:
    """Open ``url`` from byte ``offset``; returns ``(response, resumed)``."""
    req = urllib.request.Request(url, headers={"User-Agent": "stgraph-downloader"})
    if offset:
        req.add_header("Range", f"bytes={offset}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:
            return None, True  # the partial file is already complete
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from None
    except (TimeoutError, urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise DownloadError(
            f"cannot reach {url} ({reason}); are you offline? Download the file by hand and "
            "put it under --data-dir / $STGRAPH_DATA"
        ) from None
    return resp, offset > 0 and getattr(resp, "status", 200) == 206


def download_file(
    url: str,
    dest: str | Path,
    sha256: str = "",
    *,
    timeout: float = 30.0,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Fetch ``url`` into ``dest`` (resuming ``dest.part`` if present) and verify it.

    Args:
        url: http(s) URL.
        dest: final path.
        sha256: expected hex digest; empty = not pinned (a warning is logged).
        timeout: socket timeout in seconds.
        progress: called with the number of bytes received so far.

    Returns:
        ``dest``.

    Raises:
        ValueError: unsupported URL scheme, or checksum mismatch (the ``.part`` is removed).
        DownloadError: network failure (the ``.part`` is kept for a later resume).
    """
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"refusing to download {url!r}: only http(s) URLs are supported")
    dest = Path(dest)
    if dest.is_file() and sha256 and sha256_file(dest) == sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    resp, resumed = _open(url, offset, timeout)
    digest = _hash_prefix(part) if resumed else hashlib.sha256()
    if resp is not None:
        _stream(resp, part, resumed, offset, digest, url, progress)
    actual = digest.hexdigest()
    if sha256 and actual != sha256:
        part.unlink(missing_ok=True)
        raise ValueError(
            f"{url}: checksum mismatch (expected sha256 {sha256}, got {actual}); the download "
            "was deleted"
        )
    if not sha256:
        log.warning("%s: no pinned checksum; downloaded file not verified (sha256 %s)", url, actual)
    os.replace(part, dest)
    return dest


def _stream(
    resp: Any,
    part: Path,
    resumed: bool,
    offset: int,
    digest: Any,
    url: str,
    progress: Callable[[int], None] | None,
) -> None:
    """Append (``resumed``) or write the response body to ``part``, updating ``digest``.

    Raises:
        DownloadError: the connection broke or delivered fewer bytes than announced.
    """
    got = offset if resumed else 0
    length = resp.headers.get("Content-Length")
    expected = got + int(length) if length and length.isdigit() else None
    with contextlib.closing(resp), part.open("ab" if resumed else "wb") as out:
        try:
            while block := resp.read(CHUNK):
                out.write(block)
                digest.update(block)
                got += len(block)
                if progress is not None:
                    progress(got)
            error = None if expected is None or got >= expected else "connection closed early"
        except (OSError, http.client.HTTPException) as e:
            error = str(e) or type(e).__name__
    if error is not None:
        raise DownloadError(
            f"{url}: transfer interrupted after {got} bytes ({error}); the partial file {part} "
            "is kept and the next download resumes it"
        )


@dataclass(frozen=True)
class FetchResult:
    """What :func:`download_dataset` did for one card file."""

    path: str
    status: str  # "present", "downloaded", "manual" (no direct URL)
    location: Path | None
    note: str = ""


def download_dataset(
    name: str, cache_dir: str | Path | None = None, *, timeout: float = 30.0
) -> list[FetchResult]:
    """Download every file of dataset ``name`` that is in no data root yet.

    Files already found (``$STGRAPH_DATA``, the cache, ``cache_dir``) are only checked;
    files without a direct URL are reported as ``manual`` with their source.

    Returns:
        One :class:`FetchResult` per card file.
    """
    card: DatasetCard = load_card(name)
    target = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    roots = [target, *data_roots(None)]
    out = []
    for f in card.files:
        out.append(_fetch_one(card, f, target, roots, timeout))
    return out


def _fetch_one(
    card: DatasetCard, f: CardFile, target: Path, roots: list[Path], timeout: float
) -> FetchResult:
    hit = find_file(f, roots)
    if hit is not None and (not f.sha256 or sha256_file(hit) == f.sha256):
        return FetchResult(f.path, "present", hit)
    if not f.url:
        return FetchResult(f.path, "manual", None, f.source or "no download URL in the card")
    dest = download_file(f.url, target / f.path, f.sha256, timeout=timeout)
    log.info("%s: downloaded %s -> %s", card.name, f.url, dest)
    return FetchResult(f.path, "downloaded", dest)
