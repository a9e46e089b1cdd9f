"""Attention maps: :func:`plot_attention` draws recorded weights (see
:func:`stgraph.nn.attention.record.record_attention`) as query x key heatmaps.

Importing this module also registers how to read the weights of the model-specific attention
layers that the generic recorder cannot see (their weights are a forward output or a method,
not a scaled dot-product call): ASTGCN's spatial / temporal attention and A3T-GCN's step
attention.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import Tensor, nn

from stgraph.models.astgcn import ASTGCNAttention
from stgraph.models.tgcn import StepAttention
from stgraph.nn.attention.record import register_attention
from stgraph.viz.forecast import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

AXIS_NAMES = {"temporal": "step", "spatial": "node", "sequence": "position"}


def _astgcn_weights(module: nn.Module, args: Any, kwargs: Any, output: Tensor) -> Tensor:
    """ASTGCN attention returns its weights: ``[B, A, A] -> [B, 1, 1, A, A]``."""
    return output[:, None, None]


def _step_weights(module: nn.Module, args: Any, kwargs: Any, output: Any) -> Tensor:
    """A3T-GCN's read-out weights over the ``L`` steps, per node:
    ``[B, L, N, 1] -> [B, N, 1, 1, L]`` (one query: the context vector)."""
    h = args[0] if args else kwargs["h"]
    w: Tensor = module.weights(h)  # type: ignore[operator]
    return w.permute(0, 2, 3, 1).unsqueeze(2)


register_attention(ASTGCNAttention, _astgcn_weights)
register_attention(StepAttention, _step_weights, "temporal")


def plot_attention(
    maps: Mapping[str, Any],
    kind: str = "temporal",
    *,
    labels: Sequence[str] | None = None,
    title: str | None = None,
    most: int = 12,
) -> Figure:
    """Attention weights as heatmaps, one panel per attention module: row ``i`` is query
    ``i``'s distribution over the keys (it sums to 1), averaged over heads, batch and the
    other axis (:meth:`~stgraph.nn.attention.record.AttentionRecord.mean`).

    Args:
        maps: module path -> ``[Lq, Lk]`` weights (tensor or array).
        kind: ``"temporal"`` (steps x steps), ``"spatial"`` (nodes x nodes) or
            ``"sequence"``: names the axes.
        labels: tick labels of the keys (e.g. node ids), shown when there are at most 30.
        title: figure title.
        most: draw at most this many modules (the first ones; the title says how many).

    Shapes:
        maps[*]: [Lq, Lk]

    Returns:
        The figure.
    """
    if not maps:
        raise ValueError("plot_attention: no attention maps to draw")
    names = list(maps)[:most]
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = new_figure(rows, cols, size=(4.2 * cols, 3.8 * rows))
    axes = np.atleast_1d(axes).reshape(-1)
    unit = AXIS_NAMES.get(kind, "position")
    for ax, name in zip(axes, names, strict=False):
        w = maps[name]
        w = np.asarray(w.detach().cpu() if hasattr(w, "detach") else w, dtype=float)
        if w.ndim != 2:
            raise ValueError(f"attention map {name!r} must be [Lq, Lk], got shape {w.shape}")
        im = ax.imshow(w, cmap="viridis", vmin=0.0, aspect="auto", interpolation="nearest")
        fig.colorbar(im, ax=ax, shrink=0.8)
        ax.set_title(name or "(model)", fontsize=8)
        ax.set_xlabel(f"key {unit}")
        ax.set_ylabel(f"query {unit}")
        if labels is not None and w.shape[1] == len(labels) <= 30:
            ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=6)
            if w.shape[0] == len(labels):
                ax.set_yticks(range(len(labels)), labels, fontsize=6)
    for ax in axes[len(names) :]:
        ax.set_axis_off()
    shown = f" ({len(names)} of {len(maps)} modules)" if len(names) < len(maps) else ""
    fig.suptitle(f"{title or f'{kind} attention'}{shown}", fontsize=11)
    return fig
