"""Whole-series passes in bounded memory: time chunks, page release, exact order statistics.

A series opened from disk (:func:`stgraph.data.open_series`) is a tensor view on a read-only
memory map. Reading it maps its pages into the process, and mapped file pages count in the
resident set (RSS) until they are unmapped. :func:`time_chunks` therefore hands out ``[t, N,
F]`` slices of at most :data:`CHUNK_BYTES` and, once the caller is done with a slice, drops its
pages again (``madvise(MADV_DONTNEED)``: the data stays in the page cache and is read back on
the next access). Tensors in memory are not affected: release is a no-op for them.
"""

from __future__ import annotations

import mmap
import weakref
from collections.abc import Iterator, Sequence

import numpy as np
from torch import Tensor

#: target size of one time chunk of the widest tensor passed to :func:`time_chunks`.
CHUNK_BYTES = 8 << 20

# storage address of a tensor made from a memory map -> the np.memmap (weakly held)
_MAPPED: dict[int, weakref.ref[np.memmap]] = {}


def register_mapped(tensor: Tensor, array: np.memmap) -> None:
    """Record that ``tensor`` (from ``torch.from_numpy(array)``) lives in ``array``'s memory
    map, so :func:`release` may drop its pages. The entry disappears with the array."""
    key = tensor.untyped_storage().data_ptr()
    _MAPPED[key] = weakref.ref(array, lambda _: _MAPPED.pop(key, None))


def drop_pages(array: np.memmap, lo: int, hi: int) -> None:
    """Unmap the pages holding bytes ``[lo, hi)`` of ``array``'s data from this process (the
    page cache keeps them; written pages are flushed first, so nothing is lost).

    Args:
        array: a memory-mapped array (read-only or written through a shared map).
        lo, hi: byte offsets into the array's data; widened to whole pages and clipped to
            the mapping.
    """
    mm = getattr(array, "_mmap", None)
    if not isinstance(mm, mmap.mmap) or hi <= lo:
        return
    head = array.offset % mmap.ALLOCATIONGRANULARITY  # the map starts this far before the data
    start = (head + lo) // mmap.PAGESIZE * mmap.PAGESIZE
    stop = min(head + hi, len(mm))
    if stop > start:
        if array.flags.writeable:
            mm.flush()
        mm.madvise(mmap.MADV_DONTNEED, start, stop - start)


def release(tensor: Tensor) -> None:
    """Drop the memory-map pages under ``tensor`` (a view on a registered map, see
    :func:`register_mapped`); a no-op for tensors in ordinary memory."""
    ref = _MAPPED.get(tensor.untyped_storage().data_ptr())
    array = None if ref is None else ref()
    if array is None or tensor.numel() == 0:
        return
    lo = tensor.data_ptr() - array.ctypes.data
    span = sum((n - 1) * s for n, s in zip(tensor.shape, tensor.stride(), strict=True)) + 1
    drop_pages(array, lo, lo + span * tensor.element_size())


def release_windows(tensor: Tensor, starts: np.ndarray, length: int) -> None:
    """Drop the pages of the time ranges ``[s, s + length)`` of ``tensor`` (overlapping
    windows are merged first); a no-op for tensors in ordinary memory.

    Shapes:
        tensor: [T, ...], starts: [B]
    """
    key = tensor.untyped_storage().data_ptr()
    if key not in _MAPPED or len(starts) == 0:
        return
    s = np.sort(np.asarray(starts, dtype=np.int64))
    breaks = np.flatnonzero(s[1:] > s[:-1] + length) + 1
    for a, b in zip(s[np.r_[0, breaks]], s[np.r_[breaks - 1, len(s) - 1]] + length, strict=True):
        release(tensor[int(a) : int(b)])


def chunk_rows(*tensors: Tensor, budget: int | None = None) -> int:
    """Time steps per chunk so that a chunk of the widest tensor holds about ``budget`` bytes
    (default :data:`CHUNK_BYTES`; at least one step). Passes over a chunk make temporaries
    of a few times its size, so this sets the resident memory of whole-series passes."""
    budget = CHUNK_BYTES if budget is None else budget
    step = max(t[0].numel() * t.element_size() if len(t) else 1 for t in tensors)
    return max(1, budget // max(step, 1))


def time_chunks(
    *tensors: Tensor, start: int = 0, stop: int | None = None, rows: int | None = None
) -> Iterator[tuple[int, tuple[Tensor, ...]]]:
    """Consecutive time slices ``t[a:b]`` of every tensor over ``[start, stop)``.

    Each slice is released (:func:`release`) when the loop asks for the next one, so a pass
    over a memory-mapped series keeps one chunk resident at a time.

    Args:
        tensors: tensors sharing their first (time) dimension.
        start, stop: time range (``stop=None``: the end).
        rows: steps per chunk (default :func:`chunk_rows`).

    Yields:
        ``(a, (t[a:b] for t in tensors))``.
    """
    end = tensors[0].shape[0] if stop is None else stop
    step = rows or chunk_rows(*tensors)
    for a in range(start, end, step):
        parts = tuple(t[a : min(a + step, end)] for t in tensors)
        yield a, parts
        for p in parts:
            release(p)


def _sort_keys(x: np.ndarray) -> np.ndarray:
    """float32 -> uint32 keys with the same order (negative floats reversed, sign bit set on
    positive ones), computed in place when ``x`` is a float32 array of its own."""
    k = np.array(x, dtype=np.float32, copy=None).view(np.uint32)
    neg = k >= np.uint32(0x80000000)
    np.invert(k, out=k, where=neg)
    np.bitwise_or(k, np.uint32(0x80000000), out=k, where=~neg)
    return k


def _from_keys(k: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_sort_keys`."""
    k = k.astype(np.uint32)
    return np.where(k >> 31, k & np.uint32(0x7FFFFFFF), ~k).view(np.float32)


def _observed(values: Tensor, mask: Tensor, rows: int | None) -> Iterator[list[np.ndarray]]:
    """Per chunk: the observed values of every feature, as float32 arrays."""
    for _, (v, m) in time_chunks(values, mask, rows=rows):
        x, seen = v.numpy(), m.numpy()  # numpy's boolean index: no [count, 3] index tensor
        yield [x[..., f][seen[..., f]] for f in range(v.shape[-1])]


def order_statistics(
    values: Tensor, mask: Tensor, ranks: Sequence[Sequence[int]], rows: int | None = None
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Exact order statistics of the observed float32 values of each feature, in two passes
    over time chunks (a radix select on the upper, then the lower 16 bits of the sortable
    bit pattern), with memory independent of ``T``.

    Args:
        values, mask: the series (values float32).
        ranks: per feature, 0-based ranks into its sorted observed values; each must lie in
            ``[0, count)`` with ``count`` from a first call with empty ``ranks`` lists.
        rows: steps per chunk (default: :func:`chunk_rows`).

    Returns:
        ``(count [F] int64, [values at ranks[f] as float64 for each feature])``.

    Shapes:
        values, mask: [T, N, F]
    """
    nf = values.shape[-1]
    high = np.zeros((nf, 1 << 16), np.int64)
    for obs in _observed(values, mask, rows):
        for f, x in enumerate(obs):
            high[f] += np.bincount(_sort_keys(x) >> 16, minlength=1 << 16)
    count = high.sum(1)
    if not any(len(r) for r in ranks):
        return count, [np.zeros(0) for _ in range(nf)]
    cum = np.cumsum(high, 1)
    want = [np.asarray(r, dtype=np.int64) for r in ranks]
    bucket = [np.searchsorted(cum[f], want[f], side="right") for f in range(nf)]
    low = [{int(b): np.zeros(1 << 16, np.int64) for b in bucket[f]} for f in range(nf)]
    for obs in _observed(values, mask, rows):
        for f, x in enumerate(obs):
            k = _sort_keys(x)
            top = k >> 16
            for b, hist in low[f].items():
                hist += np.bincount(k[top == b] & 0xFFFF, minlength=1 << 16)
    out = []
    for f in range(nf):
        before = np.where(bucket[f] > 0, cum[f][np.maximum(bucket[f] - 1, 0)], 0)
        keys = [
            (b << 16) | int(np.searchsorted(np.cumsum(low[f][b]), r - c, side="right"))
            for b, r, c in zip(bucket[f].tolist(), want[f].tolist(), before.tolist(), strict=True)
        ]
        out.append(_from_keys(np.array(keys, dtype=np.uint64)).astype(np.float64))
    return count, out


def quantiles(
    values: Tensor, mask: Tensor, q: Sequence[float], rows: int | None = None
) -> list[np.ndarray | None]:
    """Per feature, the ``q`` quantiles of the observed values exactly as ``np.quantile``
    (linear interpolation) computes them on the float64 copy of those values; ``None`` for
    a feature without observed values. Memory does not grow with ``T``.

    Shapes:
        values, mask: [T, N, F] -> F arrays of [len(q)]
    """
    count, _ = order_statistics(values, mask, [[] for _ in range(values.shape[-1])], rows)
    qs = np.asarray(q, dtype=np.float64)
    pos = [(int(c) - 1) * qs for c in count]
    lo = [np.floor(p).astype(np.int64) for p in pos]
    hi = [np.minimum(a + 1, max(int(c) - 1, 0)) for a, c in zip(lo, count, strict=True)]
    ranks = [np.r_[a, b] if c else [] for a, b, c in zip(lo, hi, count, strict=True)]
    _, stats = order_statistics(values, mask, ranks, rows)
    out: list[np.ndarray | None] = []
    for p, a, c, s in zip(pos, lo, count, stats, strict=True):
        if c == 0:
            out.append(None)
            continue
        x0, x1, t = s[: len(qs)], s[len(qs) :], p - a
        diff = x1 - x0
        out.append(np.where(t >= 0.5, x1 - diff * (1 - t), x0 + diff * t))
    return out


def masked_any(mask: Tensor) -> bool:
    """``bool(mask.any())`` in time chunks."""
    return any(bool(m.any()) for _, (m,) in time_chunks(mask))


def count_true(mask: Tensor) -> int:
    """``int(mask.sum())`` in time chunks."""
    return sum(int(m.sum()) for _, (m,) in time_chunks(mask))


__all__ = [
    "CHUNK_BYTES",
    "chunk_rows",
    "count_true",
    "drop_pages",
    "masked_any",
    "order_statistics",
    "quantiles",
    "register_mapped",
    "release",
    "release_windows",
    "time_chunks",
]
