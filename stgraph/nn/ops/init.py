"""Shared parameter initialisers."""

from __future__ import annotations

from torch import nn


def glorot_(*modules: nn.Module) -> None:
    """Glorot-uniform weights and zero biases for every given ``nn.Linear`` (or any module
    with ``weight`` / optional ``bias``; Glorot & Bengio, AISTATS 2010)."""
    for m in modules:
        nn.init.xavier_uniform_(m.weight)  # type: ignore[arg-type]
        bias = getattr(m, "bias", None)
        if bias is not None:
            nn.init.zeros_(bias)
