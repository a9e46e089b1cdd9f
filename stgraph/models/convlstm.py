"""ConvLSTM encoder-forecaster on a lattice graph (Shi et al., NeurIPS 2015; seed article
secs. 3.4 and 5.4.1), and the lattice plumbing the grid models share: edge offsets read
from the edge list, and a 3x3 convolution with the spatial-layer signature."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from stgraph.models.common import add_last_value, covariate_width, time_features, with_time_features
from stgraph.models.registry import Capabilities, register_model
from stgraph.nn import GraphLSTMCell, LatticeConv

GRID_CAPABILITIES = Capabilities(uses_edge_weights=False, grid_only=True)
"""What the lattice models do with their inputs: they read the cell layout from the edges
(removing edges changes the output), ignore edge weights and need a lattice graph."""


def _group_rank(flag: Tensor, group: Tensor, start: Tensor) -> Tensor:
    """Per element, how many earlier elements of its (contiguous) group have ``flag``."""
    f = flag.long()
    before = torch.cumsum(f, 0) - f
    return before - before[start[group]]


def lattice_edge_types(edge_index: Tensor, num_nodes: int) -> Tensor:
    r"""Conv2d offset type of every edge of a lattice graph, read from the edge list alone.

    The nodes of a lattice :class:`~stgraph.graph.SensorGraph`
    (:func:`stgraph.graph.lattice.lattice_graph`) are the kept cells in row-major order, so
    for an edge ``j -> i`` with ``d = j - i``: ``|d| = 1`` is the cell to the left/right
    (``dr = 0, dc = d``); any other neighbour lies in the row above (``d < 0``) or below
    (``d > 0``), ``dr = sign(d)``. On a rook (4-neighbour) lattice, which has no triangles,
    that neighbour is the cell straight above/below (``dc = 0``). On a queen (8-neighbour)
    lattice the column offset of a neighbour ``j`` in an adjacent row follows from which of
    ``i``'s horizontal neighbours also touch ``j``: the right one touches the cells at
    ``dc`` in {0, 1}, the left one those at {-1, 0}; where that leaves a choice, the
    neighbours in the row ordered by index run left to right, or the offset follows from
    an already resolved edge (``i -> j`` has ``-dc``, ``j -> i+1`` has ``dc - 1``). The
    type is
    ``3 (dr + 1) + (dc + 1)`` as in :func:`stgraph.graph.lattice.lattice_offsets`, so
    :class:`~stgraph.nn.LatticeConv` computes a zero-padded 3x3 convolution.

    This equals :func:`~stgraph.graph.lattice.lattice_offsets` on every unmasked lattice
    with one row or at least three columns, and on masked rook lattices unless two
    vertical neighbours have consecutive indices (every cell between them masked: they
    read as horizontal). On masked queen lattices a few offsets next to masked cells are
    guesses (about 1% of the edges at 20% random masking). A one-column lattice reads as
    one row (the same graph; the learned kernel is transposed).

    Args:
        edge_index: the lattice edges ``[2, E]`` (no self-loops).
        num_nodes: ``N``.

    Shapes:
        output: [E] int64 in {0..8} minus {4}, on ``edge_index``'s device

    Raises:
        ValueError: a node has more than three neighbours in an adjacent row (not a lattice
            in row-major order).
    """
    src, dst = edge_index[0], edge_index[1]
    d = src - dst
    horizontal = d.abs() == 1
    dr = torch.where(horizontal, torch.zeros_like(d), d.sign())
    dc = torch.where(horizontal, d, torch.zeros_like(d))
    other = (~horizontal).nonzero().squeeze(1)
    if other.numel() == 0:
        return 3 * (dr + 1) + (dc + 1)
    # the other-row neighbours, grouped by (target, direction) and sorted by source
    group = 2 * dst[other] + (d[other] > 0).long()
    order = torch.argsort(group * num_nodes + src[other])
    other, group = other[order], group[order]
    size = torch.bincount(group, minlength=2 * num_nodes)
    if int(size.max()) > 3:
        raise ValueError(
            "not a lattice graph in row-major order: a node has more than three neighbours "
            "in an adjacent row; build the graph with stgraph.graph.lattice_graph"
        )
    start = torch.cumsum(size, 0) - size
    j, i = src[other], dst[other]
    has_left = torch.zeros(num_nodes, dtype=torch.bool, device=d.device)
    has_right = torch.zeros_like(has_left)
    has_left[dst[horizontal & (d < 0)]] = True
    has_right[dst[horizontal & (d > 0)]] = True
    keys = src * num_nodes + dst
    in_r = has_right[i] & torch.isin(j * num_nodes + i + 1, keys)  # j touches i's right
    in_l = has_left[i] & torch.isin(j * num_nodes + i - 1, keys)  # j touches i's left
    if not bool((in_r | in_l).any()):  # no triangles: a rook lattice
        return 3 * (dr + 1) + (dc + 1)
    zero = torch.zeros_like(j)
    rank = _group_rank(torch.ones_like(in_r), group, start)
    n_r = torch.bincount(group, weights=in_r.double(), minlength=2 * num_nodes)[group]
    n_l = torch.bincount(group, weights=in_l.double(), minlength=2 * num_nodes)[group]
    only_r = torch.where(n_r == 2, _group_rank(in_r, group, start), zero)  # {0, 1}
    only_l = torch.where(n_l == 2, _group_rank(in_l, group, start) - 1, zero)  # {-1, 0}
    lone = torch.where(size[group] == 3, rank - 1, zero)
    left, right = has_left[i], has_right[i]
    col = torch.where(
        left & right,
        in_r.long() - in_l.long(),
        torch.where(
            right,
            torch.where(in_r, only_r, zero - 1),
            torch.where(left, torch.where(in_l, only_l, zero + 1), lone),
        ),
    )
    sure = (left & right) | (right & ~in_r) | (left & ~in_l) | (size[group] == 3)
    sure |= (right & (n_r == 2)) | (left & (n_l == 2))
    col = _settle(col, sure, j, i, num_nodes, right, left)
    dc = dc.index_copy(0, other, col)
    return 3 * (dr + 1) + (dc + 1)


def _settle(
    col: Tensor, sure: Tensor, j: Tensor, i: Tensor, n: int, right: Tensor, left: Tensor
) -> Tensor:
    """Resolve the unsure column offsets of other-row edges ``j -> i`` from sure ones: the
    reverse edge ``i -> j`` has offset ``-dc``, the edge ``j -> i + 1`` (right neighbour)
    ``dc - 1`` and ``j -> i - 1`` (left neighbour) ``dc + 1``; repeated while it helps."""
    keys = j * n + i
    order = torch.argsort(keys)
    sorted_keys = keys[order]

    def find(key: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
        pos = torch.searchsorted(sorted_keys, key).clamp(max=keys.numel() - 1)
        hit = valid & (sorted_keys[pos] == key)
        return order[pos], hit

    links = [  # (partner edge, exists, offset to add to the partner's dc, sign)
        (*find(i * n + j, torch.ones_like(sure)), 0, -1),
        (*find(j * n + i + 1, right), 1, 1),
        (*find(j * n + i - 1, left), -1, 1),
    ]
    for _ in range(4):
        if bool(sure.all()):
            break
        new_sure = sure.clone()
        for partner, exists, shift, sign in links:
            ok = ~new_sure & exists & sure[partner]
            col = torch.where(ok, sign * col[partner] + shift, col)
            new_sure |= ok
        if bool((new_sure == sure).all()):
            break
        sure = new_sure
    return col


class LatticeConv3x3(LatticeConv):
    r"""A zero-padded 3x3 convolution over the cells of a lattice graph, with the
    spatial-layer signature ``m(x, edge_index, edge_type)``: :class:`~stgraph.nn.LatticeConv`
    (Conv2d written as a typed-edge graph layer) whose third argument is the edge types of
    :func:`lattice_edge_types` instead of edge weights (every lattice edge has weight 1), so
    it fits wherever a graph layer goes (e.g. as the gate layer of a recurrent cell).

    .. math::
        h_{r,c} = b + \sum_{dr, dc \in \{-1, 0, 1\}} K_{dr+1, dc+1}^\top\, x_{r+dr, c+dc}

    (cells outside the lattice or masked contribute zero). The kernel covers the lattice's
    neighbours: all nine cells on a queen (8-neighbour) lattice, the 5-point cross on a rook
    (4-neighbour) lattice, whose diagonal weights then stay unused.

    Args:
        in_channels: input feature size.
        out_channels: output feature size.

    Shapes:
        x: [..., N, in_channels]; edge_index: [2, E]; edge_type: [E] int64
        output: [..., N, out_channels]
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(in_channels, out_channels)

    def forward(  # type: ignore[override]
        self, x: Tensor, edge_index: Tensor, edge_type: Tensor | None = None
    ) -> Tensor:
        if edge_type is None:
            edge_type = lattice_edge_types(edge_index, x.shape[-2])
        return super().forward(x, edge_index, None, edge_type)


@register_model(
    "convlstm", "ConvLSTM encoder-forecaster on a lattice (3x3 convolutional LSTM, Shi 2015)"
)
class ConvLSTMForecaster(nn.Module):
    r"""ConvLSTM encoder-forecaster for gridded fields (Shi et al., NeurIPS 2015, eq. 3 and
    sec. 3.2; seed article sec. 3.4 and sec. 5.4.1, whose "CNN + LSTM" recurrence
    convolves inside the LSTM). Every cell of a lattice graph is a pixel; the LSTM's
    input-to-state and state-to-state maps are 3x3 convolutions
    (:class:`LatticeConv3x3`), with per-cell peephole weights :math:`W_{c\cdot}`:

    .. math::
        i_t &= \sigma(W_{xi} * X_t + W_{hi} * H_{t-1} + W_{ci} \circ C_{t-1} + b_i) \\
        f_t &= \sigma(W_{xf} * X_t + W_{hf} * H_{t-1} + W_{cf} \circ C_{t-1} + b_f) \\
        C_t &= f_t \circ C_{t-1} + i_t \circ \tanh(W_{xc} * X_t + W_{hc} * H_{t-1} + b_c) \\
        o_t &= \sigma(W_{xo} * X_t + W_{ho} * H_{t-1} + W_{co} \circ C_t + b_o), \quad
        H_t = o_t \circ \tanh(C_t)

    An encoder of ``layers`` stacked ConvLSTMs reads the ``L`` input frames; a forecaster of
    as many ConvLSTMs starts from the encoder's final states and is unrolled ``H`` steps;
    at every forecast step a 1x1 convolution of all forecaster layers' hidden states gives
    the prediction, added to the last observed frame:

    .. math::
        \hat Y_{L+h} = X_L + W_{1\times1} [H^{(1)}_{L+h}; \dots; H^{(\ell)}_{L+h}] + b

    Defaults: two layers of 64 hidden states with 3x3 kernels, Shi et al.'s radar
    nowcasting network (sec. 4.2).

    Differences from the paper: the forecaster's input at step ``L + h`` is the calendar
    features of that target time (the paper's forecaster has no input; without covariates
    it is zero as in the paper); the kernel is fixed at 3x3; the network predicts the change
    from the last frame (paper: the frame itself, trained with cross-entropy on [0, 1]
    pixels). The grid is read from the lattice graph (:func:`lattice_edge_types`), so
    masked cells (e.g. land) act as zero padding, and the kernel covers the lattice's
    neighbours: 3x3 on a queen (8-neighbour) lattice, the 5-point cross on a rook
    (4-neighbour) one (build the graph with ``neighbours=8`` for the paper's kernel).

    Args:
        in_channels: input value features ``F``.
        out_channels: forecast features ``F_out``.
        horizon: ``H``.
        num_nodes: ``N`` lattice cells (the peephole weights are per cell).
        num_covariates: covariate channels ``C``.
        hidden: hidden states of every ConvLSTM.
        layers: stacked ConvLSTMs in the encoder and in the forecaster.
        peephole: learn the peephole weights.

    Shapes:
        x: [B, L, N, in_channels]; covariates: [B, L + H, 1 or N, C] or ``None``
        edge_index: [2, E] lattice edges; edge_weight: ignored
        output: [B, H, N, out_channels]
    """

    capabilities = GRID_CAPABILITIES

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        horizon: int,
        num_nodes: int,
        num_covariates: int = 2,
        hidden: int = 64,
        layers: int = 2,
        peephole: bool = True,
    ) -> None:
        super().__init__()
        self.horizon, self.num_covariates = horizon, num_covariates
        cov = covariate_width(num_covariates)
        nodes = num_nodes if peephole else None

        def stack(first: int) -> nn.ModuleList:
            sizes = [first] + [hidden] * (layers - 1)
            return nn.ModuleList(GraphLSTMCell(s, hidden, LatticeConv3x3, nodes) for s in sizes)

        self.encoder = stack(in_channels + cov)
        self.forecaster = stack(cov)
        self.read = nn.Linear(layers * hidden, out_channels)

    def reset_parameters(self) -> None:
        """Re-initialise every ConvLSTM (forget-gate bias 1, zero peepholes) and the 1x1
        read-out."""
        for cell in (*self.encoder, *self.forecaster):
            cell.reset_parameters()
        self.read.reset_parameters()

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        covariates: Tensor | None = None,
    ) -> Tensor:
        b, lookback, n, _ = x.shape
        types = lattice_edge_types(edge_index, n)
        h = with_time_features(x, covariates, self.num_covariates)
        future = time_features(  # forecaster inputs: the target times' calendar features
            None if covariates is None else covariates[:, lookback:],
            self.num_covariates,
            x.new_empty(b, self.horizon, n, 0),
        )
        outs = []
        for enc, dec in zip(self.encoder, self.forecaster, strict=True):
            h, state = self._run(enc, h, edge_index, types, None)
            future, _ = self._run(dec, future, edge_index, types, state)
            outs.append(future)
        out = self.read(torch.cat(outs, -1))
        return add_last_value(out, x)

    @staticmethod
    def _run(
        cell: nn.Module,
        seq: Tensor,
        edge_index: Tensor,
        types: Tensor,
        state: tuple[Tensor, Tensor] | None,
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Unroll one ConvLSTM over ``seq`` from ``state`` (zeros when ``None``); return its
        hidden states and its final ``(h, c)``."""
        outs = []
        for t in range(seq.shape[1]):
            state = cell(seq[:, t], state, edge_index, types)
            outs.append(state[0])
        assert state is not None, "a sequence of at least one step"
        return torch.stack(outs, 1), state
