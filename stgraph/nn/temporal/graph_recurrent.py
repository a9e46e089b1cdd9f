r"""Graph-recurrent cells with gate injection, and the layer that unrolls them over time.

The spatial layer computing the gates is an argument (a factory ``conv(in, out)``), so
GCN-GRU, diffusion-GRU (DCRNN), GAT-LSTM, ConvLSTM, ... are instances of two cells, and
:class:`RecurrentLayer` runs any cell over the time axis of ``[B, T, N, F]``, optionally with
attention over its previous hidden states (seed article secs. 6.1.1-6.1.2).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from stgraph.nn.ops.init import glorot_

SpatialFactory = Callable[[int, int], nn.Module]
"""``factory(in_channels, out_channels)`` -> module called as ``m(x, edge_index, edge_weight)``."""
State = Tensor | tuple[Tensor, ...]


class Pointwise(nn.Module):
    """A per-node linear map with the spatial-layer signature (the graph is ignored): the
    factory that turns a graph cell into a plain per-node GRU/LSTM cell.

    Args:
        in_channels: input feature size.
        out_channels: output feature size.

    Shapes:
        x: [..., in_channels] -> [..., out_channels]
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.lin = nn.Linear(in_channels, out_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot weight, zero bias."""
        glorot_(self.lin)

    def forward(
        self, x: Tensor, edge_index: Tensor | None = None, edge_weight: Tensor | None = None
    ) -> Tensor:
        out: Tensor = self.lin(x)
        return out


def _output_bias(module: nn.Module) -> Tensor | None:
    """The additive output bias of a spatial layer, wherever it keeps it."""
    for owner in (module, getattr(module, "lin", None), getattr(module, "conv", None)):
        bias = getattr(owner, "bias", None)
        if isinstance(bias, Tensor):
            return bias
    return None


class _GatedCell(nn.Module):
    """Shared plumbing: one spatial layer for the gates, optional one for the candidate."""

    def __init__(
        self, in_channels: int, hidden_channels: int, conv: SpatialFactory | None, gates: int
    ) -> None:
        super().__init__()
        self.in_channels, self.hidden_channels = in_channels, hidden_channels
        self.gates = (conv or Pointwise)(in_channels + hidden_channels, gates * hidden_channels)

    def _convs(self) -> list[nn.Module]:
        return [self.gates]

    def _init_gate_bias(self, start: int, stop: int) -> None:
        for m in self._convs():
            m.reset_parameters()  # type: ignore[operator]
        bias = _output_bias(self.gates)
        if bias is not None:
            with torch.no_grad():
                bias[start:stop].fill_(1.0)

    def hidden(self, state: State) -> Tensor:
        """The output ``h`` of a state."""
        return state[0] if isinstance(state, tuple) else state

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.hidden_channels}"


class GraphGRUCell(_GatedCell):
    r"""GRU cell whose matrix products are graph convolutions (DCRNN's DCGRU, Li et al.,
    ICLR 2018, eq. 3; Cho et al., EMNLP 2014 for the GRU; seed article sec. 3.3, whose GRU
    candidate omits :math:`X_t` — this is the published form).

    .. math::
        r, u = \sigma(\Theta_{r,u} \star_G [X_t, H_{t-1}]), \quad
        C = \tanh(\Theta_C \star_G [X_t, r \odot H_{t-1}]), \quad
        H_t = u \odot H_{t-1} + (1 - u) \odot C

    Args:
        in_channels: input feature size.
        hidden_channels: hidden state size.
        conv: factory of the spatial layer ``conv(in, out)`` (gate injection);
            ``None`` = :class:`Pointwise` (a plain GRU cell on every node).

    Shapes:
        x: [B, N, in_channels]; h: [B, N, hidden_channels] or ``None`` (zeros)
        edge_index: [2, E], edge_weight: [E]
        output: [B, N, hidden_channels]
    """

    def __init__(
        self, in_channels: int, hidden_channels: int, conv: SpatialFactory | None = None
    ) -> None:
        super().__init__(in_channels, hidden_channels, conv, 2)
        self.candidate = (conv or Pointwise)(in_channels + hidden_channels, hidden_channels)
        self.reset_parameters()

    def _convs(self) -> list[nn.Module]:
        return [self.gates, self.candidate]

    def reset_parameters(self) -> None:
        """Re-initialise both spatial layers; the gate biases start at 1 (keep memory)."""
        self._init_gate_bias(0, 2 * self.hidden_channels)

    def initial_state(self, x: Tensor) -> Tensor:
        """Zeros. Shapes: x [B, N, F] -> [B, N, hidden_channels]."""
        return x.new_zeros(*x.shape[:-1], self.hidden_channels)

    def forward(
        self,
        x: Tensor,
        h: Tensor | None,
        edge_index: Tensor | None = None,
        edge_weight: Tensor | None = None,
    ) -> Tensor:
        if edge_index is not None and all(
            getattr(m, "supports_node_major", lambda w: False)(edge_weight)
            for m in (self.gates, self.candidate)
        ):
            return self._forward_node_major(x, h, edge_index, edge_weight)
        if h is None:
            h = self.initial_state(x)
        ru = torch.sigmoid(self.gates(torch.cat([x, h], -1), edge_index, edge_weight))
        r, u = ru.chunk(2, dim=-1)
        c = torch.tanh(self.candidate(torch.cat([x, r * h], -1), edge_index, edge_weight))
        return u * h + (1.0 - u) * c

    def _forward_node_major(
        self, x: Tensor, h: Tensor | None, edge_index: Tensor, edge_weight: Tensor | None
    ) -> Tensor:
        """The same recurrence with node-major tensors (:mod:`stgraph.nn.ops.nodemajor`);
        the new state is returned as a ``[B, N, H]`` view of node-major storage, so the next
        step reads it without a copy. ``H_t = C + u (H_{t-1} - C)`` is one ``lerp``."""
        xn = x.movedim(-2, 0)
        hn = xn.new_zeros(*xn.shape[:-1], self.hidden_channels) if h is None else h.movedim(-2, 0)
        gates = getattr(self.gates, "forward_node_major")  # noqa: B009 (a duck-typed method)
        cand = getattr(self.candidate, "forward_node_major")  # noqa: B009
        ru = torch.sigmoid(gates(torch.cat([xn, hn], -1), edge_index, edge_weight))
        r, u = ru.chunk(2, dim=-1)
        c = torch.tanh(cand(torch.cat([xn, r * hn], -1), edge_index, edge_weight))
        return torch.lerp(c, hn, u).movedim(0, -2)


class GraphLSTMCell(_GatedCell):
    r"""LSTM cell whose matrix products are spatial layers (Hochreiter & Schmidhuber 1997 with
    a forget gate, Gers et al. 2000; graph form as in GCLSTM / Seo et al., ICONIP 2018;
    seed article secs. 3.3 and 5.2.2, whose equations drop the cell's tanh — this is the
    published form). With ``peephole_nodes`` the gates also read the cell state through
    per-node, per-channel weights (Shi et al., NeurIPS 2015, eq. 3, ConvLSTM).

    .. math::
        i, f, o, g = \Theta \star_G [X_t, H_{t-1}] (+ W_{c} \odot C), \quad
        C_t = \sigma(f) \odot C_{t-1} + \sigma(i) \odot \tanh(g), \quad
        H_t = \sigma(o) \odot \tanh(C_t)

    (peepholes: ``i`` and ``f`` read :math:`C_{t-1}`, ``o`` reads :math:`C_t`).

    Args:
        in_channels: input feature size.
        hidden_channels: hidden and cell state size.
        conv: factory of the spatial layer (gate injection); ``None`` = :class:`Pointwise`.
        peephole_nodes: ``N`` to learn peephole weights ``[N, hidden]`` (``None`` = none).

    Shapes:
        x: [B, N, in_channels]; state: ``(h, c)`` each [B, N, hidden_channels] or ``None``
        output: ``(h, c)``
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        conv: SpatialFactory | None = None,
        peephole_nodes: int | None = None,
    ) -> None:
        super().__init__(in_channels, hidden_channels, conv, 4)
        self.peephole_nodes = peephole_nodes
        self.peephole = (
            None
            if peephole_nodes is None
            else nn.Parameter(torch.empty(3, peephole_nodes, hidden_channels))
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise the spatial layer; the forget-gate bias starts at 1 (Gers et al.);
        zero peepholes."""
        self._init_gate_bias(self.hidden_channels, 2 * self.hidden_channels)
        if self.peephole is not None:
            nn.init.zeros_(self.peephole)

    def initial_state(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Zeros for ``h`` and ``c``. Shapes: x [B, N, F] -> two [B, N, hidden_channels]."""
        z = x.new_zeros(*x.shape[:-1], self.hidden_channels)
        return z, z

    def forward(
        self,
        x: Tensor,
        state: tuple[Tensor, Tensor] | None,
        edge_index: Tensor | None = None,
        edge_weight: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        h, c = self.initial_state(x) if state is None else state
        z = self.gates(torch.cat([x, h], -1), edge_index, edge_weight)
        i, f, o, g = z.chunk(4, dim=-1)
        if self.peephole is not None:
            i, f = i + self.peephole[0] * c, f + self.peephole[1] * c
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        if self.peephole is not None:
            o = o + self.peephole[2] * c
        return torch.sigmoid(o) * torch.tanh(c), c

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, peephole_nodes={self.peephole_nodes}"


def _attend_tape(tape: list[State], query: Tensor) -> State:
    r"""Scaled dot-product attention of ``query`` over the hidden states of ``tape``; every
    state component (``h`` and, for an LSTM, ``c``) is mixed with the same weights."""
    hs = torch.stack([s[0] if isinstance(s, tuple) else s for s in tape], dim=-2)  # [..., t, H]
    scores = (hs @ query.unsqueeze(-1)).squeeze(-1) / math.sqrt(query.shape[-1])
    alpha = scores.softmax(-1).unsqueeze(-2)  # [..., 1, t]

    def mix(parts: list[Tensor]) -> Tensor:
        return (alpha @ torch.stack(parts, dim=-2)).squeeze(-2)

    if isinstance(tape[0], tuple):
        return tuple(mix([s[j] for s in tape]) for j in range(len(tape[0])))
    return mix(tape)  # type: ignore[arg-type]


class RecurrentLayer(nn.Module):
    r"""Unrolls a recurrent cell over the time axis of ``[B, T, N, F]`` and returns every
    hidden state.

    With ``attention=True`` the recurrence reads, instead of the last state, an attention
    summary of all previous states (seed article secs. 6.1.1 / 6.1.2; Cheng et al., EMNLP
    2016, LSTMN), with the seed's scaled dot-product score and query :math:`h_{t-1}`:

    .. math::
        \alpha_{t,i} = \mathrm{softmax}_i\Big(\frac{h_{t-1}^\top h_i}{\sqrt{d}}\Big), \quad
        \tilde s_{t-1} = \sum_{i=0}^{t-1} \alpha_{t,i} s_i, \quad
        s_t = \mathrm{cell}(x_t, \tilde s_{t-1})

    where :math:`s = h` (GRU) or :math:`(h, c)` (LSTM) and :math:`s_0` is the initial state.

    Args:
        cell: a cell called as ``cell(x_t, state, edge_index, edge_weight) -> state``
            (:class:`GraphGRUCell`, :class:`GraphLSTMCell`).
        attention: attend over the previous hidden states.

    Shapes:
        x: [B, T, N, in_channels]; edge_index: [2, E] (or ``None`` for graph-free cells)
        output: [B, T, N, hidden_channels]
    """

    def __init__(self, cell: nn.Module, attention: bool = False) -> None:
        super().__init__()
        self.cell, self.attention = cell, attention

    def reset_parameters(self) -> None:
        """Re-initialise the cell."""
        self.cell.reset_parameters()  # type: ignore[operator]

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor | None = None,
        edge_weight: Tensor | None = None,
        state: State | None = None,
    ) -> Tensor:
        cell = self.cell
        state = cell.initial_state(x[:, 0]) if state is None else state  # type: ignore[operator]
        tape, outs = [state], []
        for t in range(x.shape[1]):
            if self.attention and len(tape) > 1:
                state = _attend_tape(tape, cell.hidden(state))  # type: ignore[operator]
            state = cell(x[:, t], state, edge_index, edge_weight)
            tape.append(state)
            outs.append(cell.hidden(state))  # type: ignore[operator]
        return torch.stack(outs, dim=1)

    def extra_repr(self) -> str:
        return f"attention={self.attention}"
