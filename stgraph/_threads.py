"""CPU thread settings that do not oversubscribe a shared machine.

``default_threads()`` uses the cores that are free now: the cores this process may run on minus
the other runnable processes (the median of a few reads of ``procs_running`` in
``/proc/stat``, which, unlike the 1-minute load average, sees a load that started a second ago
and forgets one that ended), at least 1. With automatic threads the trainer asks again at every
epoch, so a run that started on an idle machine steps back when another job starts.

OpenMP's wait policy is left to the user (``OMP_WAIT_POLICY``): measured here
(``tools/bench/threads.py``), forcing ``PASSIVE`` made idle 2-thread training about 1.5x slower,
and the oversubscription that spinning threads suffer from is avoided by the thread count.
"""

from __future__ import annotations

import os
import statistics
import time

_auto = False


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def busy_cores(samples: int = 5, interval: float = 0.01) -> int:
    """Other processes running now: the median of ``samples`` reads of ``procs_running``
    (Linux ``/proc/stat``) minus this process; the rounded 1-minute load average elsewhere."""
    counts = []
    for i in range(samples):
        try:
            with open("/proc/stat", encoding="ascii") as f:
                line = next((ln for ln in f if ln.startswith("procs_running")), "")
            counts.append(int(line.split()[1]) - 1)
        except (OSError, IndexError, ValueError):
            break
        if i + 1 < samples:
            time.sleep(interval)
    if counts:
        return max(0, int(statistics.median(counts)))
    try:  # pragma: no cover - not Linux
        return int(os.getloadavg()[0] + 0.5)
    except OSError:  # pragma: no cover
        return 0


def default_threads() -> int:
    """Free cores now: :func:`available_cores` minus :func:`busy_cores`, at least 1."""
    return max(1, available_cores() - busy_cores())


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads to ``threads`` (``None`` = :func:`default_threads`, asked
    again by :func:`refresh_threads`).

    Returns:
        The number of threads set.

    Raises:
        ValueError: ``threads`` < 1.
    """
    import torch

    global _auto
    if threads is not None and int(threads) < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    _auto = threads is None
    n = default_threads() if threads is None else int(threads)
    torch.set_num_threads(n)
    return n


def refresh_threads() -> int | None:
    """With automatic threads (``configure_threads(None)``), set them to the cores free now;
    otherwise leave them. Returns the number set, or ``None``."""
    return configure_threads(None) if _auto else None
