"""CPU thread settings that do not oversubscribe a shared machine.

Two measured facts drive the defaults (see ``tools/bench/threads.py``):

- OpenMP's default busy-wait makes a 2-thread step many times slower when another process
  holds a core; stgraph sets ``OMP_WAIT_POLICY=PASSIVE`` (unless already set) before torch is
  imported, so idle threads sleep instead of spinning.
- ``default_threads()`` uses the cores that are free now: the cores this process may run on
  minus the other runnable processes (the median of a few reads of ``procs_running`` in
  ``/proc/stat``, which, unlike the 1-minute load average, sees a load that started a second
  ago and forgets one that ended), at least 1.
"""

from __future__ import annotations

import os
import statistics
import time


def set_wait_policy() -> None:
    """``OMP_WAIT_POLICY=PASSIVE`` unless the user chose a policy (effective only before
    torch is imported)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


set_wait_policy()
OMP_WAIT_POLICY = os.environ["OMP_WAIT_POLICY"]


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
    """Set torch's intra-op threads to ``threads`` (``None`` = :func:`default_threads`).

    Returns:
        The number of threads set.

    Raises:
        ValueError: ``threads`` < 1.
    """
    import torch

    n = default_threads() if threads is None else int(threads)
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    torch.set_num_threads(n)
    return n
