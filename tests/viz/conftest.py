"""The plotting tests run their tiny models on one thread: the work per call is so small
that a second thread only adds synchronisation (and stalls on a busy machine)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # the root conftest pins the count back after each test
    yield
