"""Thread defaults: never more threads than free cores, and idle OpenMP threads sleep."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch

import stgraph  # noqa: F401  (sets the wait policy)
from stgraph import _threads


def test_wait_policy_is_passive_unless_the_user_chose_one():
    code = "import os, stgraph; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "ACTIVE"


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


def test_configure_threads_sets_torch_and_refuses_zero():
    before = torch.get_num_threads()
    try:
        assert _threads.configure_threads(1) == 1 and torch.get_num_threads() == 1
        with pytest.raises(ValueError, match="threads must be >= 1"):
            _threads.configure_threads(0)
    finally:
        torch.set_num_threads(before)
