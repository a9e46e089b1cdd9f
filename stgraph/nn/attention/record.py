r"""Opt-in capture of attention weights: :func:`record_attention`.

Fused kernels such as :func:`torch.nn.functional.scaled_dot_product_attention` return no
weights, so while a recorder is active the weights are recomputed next to the layer's own
computation, from the same projected queries and keys (and the same mask):

.. math::
    \alpha = \mathrm{softmax}\Big(\frac{Q K^\top}{\sqrt{d_k}} + M\Big)

The recorded weights are those before attention dropout (record in eval mode, where there
is none). Nothing is hooked and nothing is computed while no recorder is active: the attention
functions test one module-level list and go on. Inside ``with record_attention(model)`` the
model's outputs are unchanged (the weights are recomputed under ``torch.no_grad``, beside the
forward pass, never fed into it).

What is captured:

* every call of :func:`~stgraph.nn.attention.mechanisms.scaled_dot_product` (multi-head,
  temporal, spatial and interactive attention, and the models built on it) and of
  :class:`~stgraph.nn.attention.mechanisms.AdditiveAttention`;
* modules whose class has an extractor registered with :func:`register_attention`
  (built in: :class:`~stgraph.nn.temporal.graph_recurrent.RecurrentLayer` with attention,
  whose weights over its past states are rebuilt from its outputs; model-specific layers
  register theirs where the models are known, see :mod:`stgraph.viz.attention`).

Every call gives one tensor ``[S, M, heads, Lq, Lk]``: ``S`` independent sequences (e.g. the
batch, or batch x steps for attention over nodes), ``M`` positions of the other axis (e.g.
the nodes for attention over time), the heads, and query x key weights that sum to 1 over the
keys.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from stgraph.nn.attention.masking import masked_softmax

# The recorders now active (innermost last); the attention functions only test this list.
ACTIVE: list[AttentionRecorder] = []

Extractor = Callable[[nn.Module, tuple[Any, ...], dict[str, Any], Any], Tensor | None]
_EXTRACTORS: dict[type[nn.Module], tuple[Extractor, str | None]] = {}


@dataclass
class AttentionRecord:
    """The weights one attention module produced while recorded.

    Args:
        name: the module's path in the model (``"blocks.0.temporal.attn"``; ``""`` = root).
        kind: ``"temporal"`` (steps attend to steps), ``"spatial"`` (nodes to nodes) or
            ``"sequence"`` (any other axis).
        weights: one tensor per call: ``[S, M, heads, Lq, Lk]`` (``full=True``) or the mean
            over ``S, M, heads``, ``[Lq, Lk]`` (default).

    Shapes:
        weights[i]: [S, M, heads, Lq, Lk] or [Lq, Lk]; rows sum to 1 over ``Lk``
    """

    name: str
    kind: str
    weights: list[Tensor] = field(default_factory=list)

    def mean(self) -> Tensor:
        """Weights averaged over calls, sequences, positions and heads.

        Shapes:
            output: [Lq, Lk]

        Raises:
            ValueError: the calls attended over different lengths (no common map).
        """
        maps = [w.reshape(-1, *w.shape[-2:]).mean(0) for w in self.weights]
        shapes = {tuple(m.shape) for m in maps}
        if len(shapes) != 1:
            raise ValueError(
                f"attention {self.name!r}: calls attended over different lengths "
                f"{sorted(shapes)}; average them one call at a time"
            )
        return torch.stack(maps).mean(0)


class AttentionRecorder:
    """State of one :func:`record_attention` context (use that function, not this class).

    Args:
        model: the recorded model.
        full: keep every call's full ``[S, M, heads, Lq, Lk]`` weights instead of their mean.
    """

    def __init__(self, model: nn.Module, full: bool = False) -> None:
        self.full = full
        self.records: dict[str, AttentionRecord] = {}
        self._stack: list[str] = []
        self._names = {id(m): name for name, m in model.named_modules()}
        self._handles: list[Any] = []
        for m in model.modules():
            self._handles.append(m.register_forward_pre_hook(self._enter))
            self._handles.append(m.register_forward_hook(self._leave, with_kwargs=True))

    def _enter(self, module: nn.Module, args: Any) -> None:
        self._stack.append(self._names[id(module)])

    def _leave(self, module: nn.Module, args: Any, kwargs: Any, output: Any) -> None:
        name = self._stack.pop() if self._stack else self._names[id(module)]
        found = _extractor(type(module))
        if found is not None:
            extract, kind = found
            with torch.no_grad():
                weights = extract(module, args, kwargs, output)
            if weights is not None:
                self.add(weights, kind or _kind_of_name(name), name)

    def add(self, weights: Tensor, kind: str, name: str | None = None) -> None:
        """Store one call's weights ``[S, M, heads, Lq, Lk]`` under ``name`` (default: the
        innermost module now running)."""
        if name is None:
            name = self._stack[-1] if self._stack else ""
        rec = self.records.setdefault(name, AttentionRecord(name, kind))
        w = weights.detach().float().cpu()
        rec.weights.append(w if self.full else w.reshape(-1, *w.shape[-2:]).mean(0))

    def close(self) -> None:
        """Remove every hook."""
        for h in self._handles:
            h.remove()
        self._handles.clear()


@contextlib.contextmanager
def record_attention(model: nn.Module, full: bool = False) -> Iterator[dict[str, AttentionRecord]]:
    r"""Capture the attention weights of every attention module of ``model`` while the
    context is open (see the module docstring for what is captured and how).

    .. code-block:: python

        with record_attention(model) as maps:
            model(x, edge_index, edge_weight, covariates)
        maps["blocks.0.temporal.attn"].mean()   # [L, L]

    Args:
        model: any ``nn.Module``.
        full: keep every call's ``[S, M, heads, Lq, Lk]`` weights (memory grows as the
            batch times the attention maps) instead of their mean ``[Lq, Lk]``.

    Returns:
        A dict, filled while the context runs: module path -> :class:`AttentionRecord`.
    """
    rec = AttentionRecorder(model, full)
    ACTIVE.append(rec)
    try:
        yield rec.records
    finally:
        ACTIVE.remove(rec)
        rec.close()


def register_attention(cls: type[nn.Module], extract: Extractor, kind: str | None = None) -> None:
    """Register how to read the attention weights of modules of class ``cls`` (and its
    subclasses): ``extract(module, args, kwargs, output)`` returns
    ``[S, M, heads, Lq, Lk]`` weights, or ``None`` when this instance has none. It runs
    under ``torch.no_grad`` after the module's forward, while a recorder is active.

    Args:
        cls: the module class.
        extract: the extractor.
        kind: ``"temporal"``, ``"spatial"`` or ``"sequence"``; ``None`` = from the module's
            path (``"...temporal_attention"`` -> temporal, ``"...spatial..."`` -> spatial).
    """
    _EXTRACTORS[cls] = (extract, kind)


def _extractor(cls: type[nn.Module]) -> tuple[Extractor, str | None] | None:
    for base in cls.__mro__:
        if base in _EXTRACTORS:
            return _EXTRACTORS[base]
    return None


def _kind_of_name(name: str) -> str:
    parts = [p.lower() for p in reversed(name.split("."))]  # the innermost name decides
    for part in parts:
        for kind in ("temporal", "spatial"):
            if kind in part:
                return kind
    return "sequence"


def axis_kind(ndim: int, dim: int) -> str:
    """``"temporal"`` / ``"spatial"`` for the time / node axis of a ``[B, T, N, F]`` tensor,
    else ``"sequence"``."""
    d = dim % ndim
    if ndim == 4 and d in (1, 2):
        return "temporal" if d == 1 else "spatial"
    return "sequence"


def capture_scaled_dot_product(
    q: Tensor,
    k: Tensor,
    positions: int,
    attn_mask: Tensor | None,
    causal: bool,
    kind: str,
) -> None:
    """Recompute and record the weights of one scaled dot-product call (called by
    :func:`~stgraph.nn.attention.mechanisms.scaled_dot_product` while a recorder is active).

    Shapes:
        q: [S, M * heads, Lq, d]; k: [S, M * heads, Lk, d]
    """
    with torch.no_grad():
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        w = masked_softmax(scores, attn_mask, causal)
        s, mh, lq, lk = w.shape
        w = w.reshape(s, positions, mh // positions, lq, lk)
    for rec in ACTIVE:
        rec.add(w, kind)


def capture_weights(alpha: Tensor, kind: str) -> None:
    """Record weights computed explicitly by a layer (e.g. additive attention).

    Shapes:
        alpha: [S, M, heads, Lq, Lk]
    """
    for rec in ACTIVE:
        rec.add(alpha, kind)


def _recurrent_weights(module: nn.Module, args: Any, kwargs: Any, output: Any) -> Tensor | None:
    r"""Weights of a :class:`~stgraph.nn.temporal.graph_recurrent.RecurrentLayer` with
    attention, rebuilt from its outputs: step ``t`` attends over the states
    :math:`s_0 .. s_t` with :math:`\alpha_{t,i} = \mathrm{softmax}_i(h_t^\top h_i / \sqrt d)`
    (step 0 reads :math:`s_0` alone).

    Shapes:
        output: [B, N, 1, T, T + 1]
    """
    if not getattr(module, "attention", False):
        return None
    cell: Any = module.cell
    x = args[0] if args else kwargs["x"]
    state = args[3] if len(args) > 3 else kwargs.get("state")
    h0 = cell.hidden(cell.initial_state(x[:, 0]) if state is None else state)
    hs = torch.cat([h0[:, None], output], 1).transpose(1, 2)  # [B, N, T + 1, H]
    steps = output.shape[1]
    scores = hs[:, :, :steps] @ hs.transpose(-1, -2) / math.sqrt(hs.shape[-1])
    keep = torch.ones(steps, steps + 1, dtype=torch.bool, device=hs.device).tril()
    return masked_softmax(scores, keep).unsqueeze(2)


def _register_builtin() -> None:
    from stgraph.nn.temporal.graph_recurrent import RecurrentLayer

    register_attention(RecurrentLayer, _recurrent_weights, "temporal")


_register_builtin()
