"""Training curves: the per-epoch history a run kept (:func:`read_history`) and its plot
(:func:`plot_training`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from stgraph.engine.rundir import load_checkpoint
from stgraph.viz.forecast import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# one line of train.log, as the trainer writes it
_LINE = re.compile(
    r"epoch (?P<epoch>\d+)/\d+ train_loss (?P<train_loss>\S+) val_mae (?P<val_mae>\S+)"
    r"( val_rmse \S+)?(?P<star> \*)?"
)


def read_history(run_dir: str | Path) -> list[dict[str, Any]]:
    """The per-epoch history of a run: from ``last.pt`` (read with ``weights_only=True``
    through :func:`stgraph.engine.rundir.load_checkpoint`), else parsed from ``train.log``.

    Returns:
        One dict per finished epoch with ``epoch``, ``train_loss``, ``val_mae`` and
        ``improved`` (plus ``lr`` and ``seconds`` from ``last.pt``).

    Raises:
        FileNotFoundError: the run has neither file.
        ValueError: ``train.log`` has no epoch line.
    """
    d = Path(run_dir)
    if (d / "last.pt").is_file():
        try:
            history = load_checkpoint(d / "last.pt")["history"]
            return [dict(h) for h in history]
        except (ValueError, KeyError, TypeError):
            pass  # damaged or foreign checkpoint: fall back to the log
    log = d / "train.log"
    if not log.is_file():
        raise FileNotFoundError(f"{d}: no last.pt or train.log; has training started?")
    rows = []
    for line in log.read_text(encoding="utf-8").splitlines():
        m = _LINE.match(line.strip())
        if m:
            rows.append(
                {
                    "epoch": int(m["epoch"]),
                    "train_loss": float(m["train_loss"]),
                    "val_mae": float(m["val_mae"]),
                    "improved": m["star"] is not None,
                }
            )
    if not rows:
        raise ValueError(f"{log}: no epoch line (expected 'epoch 1/N train_loss ... val_mae ...')")
    return rows


def plot_training(history: Sequence[Mapping[str, Any]], *, title: str | None = None) -> Figure:
    """Training loss (scaled units, the training objective) and validation MAE (original
    units, the early-stopping criterion) per epoch; the best epoch is marked.

    Args:
        history: one mapping per epoch with ``epoch``, ``train_loss``, ``val_mae`` (as
            :func:`read_history` returns).
        title: figure title.

    Returns:
        The figure.
    """
    if not history:
        raise ValueError("plot_training: the history is empty (no finished epoch)")
    try:
        epoch = np.array([h["epoch"] for h in history], dtype=float)
        loss = np.array([h["train_loss"] for h in history], dtype=float)
        val = np.array([h["val_mae"] for h in history], dtype=float)
    except KeyError as e:
        raise ValueError(f"plot_training: history entries need {e}") from None
    from matplotlib.ticker import MaxNLocator

    fig, (left, right) = new_figure(1, 2, size=(10, 3.5))
    left.plot(epoch, loss, marker="o", color="C0")
    left.set_title("training loss (scaled units)", fontsize=10)
    right.plot(epoch, val, marker="o", color="C1")
    finite = np.isfinite(val)
    if finite.any():
        best = int(np.flatnonzero(finite)[np.argmin(val[finite])])
        right.scatter([epoch[best]], [val[best]], s=120, facecolors="none", edgecolors="k")
        right.annotate(
            f"best: epoch {int(epoch[best])}",
            (epoch[best], val[best]),
            xytext=(-8, 10),
            textcoords="offset points",
            ha="right",
            fontsize=8,
        )
    right.set_title("validation MAE (original units)", fontsize=10)
    for ax in (left, right):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.25)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
