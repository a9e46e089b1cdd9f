"""Thread defaults: never more threads than free cores, re-read every epoch."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

import stgraph  # noqa: F401  (sets the wait policy)
from stgraph import _threads


def test_default_threads_leave_busy_cores_alone(monkeypatch):
    monkeypatch.setattr(_threads, "available_cores", lambda: 8)
    monkeypatch.setattr(_threads, "busy_cores", lambda: 3)
    assert _threads.default_threads() == 5
    monkeypatch.setattr(_threads, "busy_cores", lambda: 20)
    assert _threads.default_threads() == 1


def test_a_running_process_counts_as_busy():
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        assert _threads.busy_cores() >= 1
    finally:
        hog.kill()
        hog.wait()


def test_configure_threads_sets_torch_and_refuses_zero(monkeypatch):
    before = torch.get_num_threads()
    try:
        assert _threads.configure_threads(1) == 1 and torch.get_num_threads() == 1
        assert _threads.refresh_threads() is None  # pinned: left alone
        with pytest.raises(ValueError, match="threads must be >= 1"):
            _threads.configure_threads(0)
        monkeypatch.setattr(_threads, "available_cores", lambda: 2)
        monkeypatch.setattr(_threads, "busy_cores", lambda: 0)
        assert _threads.configure_threads(None) == 2 and torch.get_num_threads() == 2
        monkeypatch.setattr(_threads, "busy_cores", lambda: 1)  # a job started meanwhile
        assert _threads.refresh_threads() == 1 and torch.get_num_threads() == 1
    finally:
        _threads.configure_threads(before)
