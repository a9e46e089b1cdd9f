"""Offset-typed graph convolution: a 3x3 ``Conv2d`` written as a graph layer."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from stgraph.graph.lattice import CENTRE, OFFSETS


class LatticeConv(nn.Module):
    r"""Typed-edge graph convolution; on a lattice graph it is a zero-padded 3x3 convolution.

    Every edge ``j -> i`` carries a type :math:`\tau_{ji}` (on a lattice: the offset of ``j``
    relative to ``i``, see :func:`stgraph.graph.lattice.lattice_offsets`) and every type has
    its own weight matrix; the centre type weighs the node's own features (the root weight of
    R-GCN, Schlichtkrull et al., ESWC 2018, eq. 2, without its normaliser):

    .. math::
        h_i = \Theta_{c}^\top x_i + \sum_{j \to i} w_{ji}\, \Theta_{\tau_{ji}}^\top x_j + b

    With the lattice types and unit weights this is the cross-correlation of
    ``torch.nn.Conv2d(kernel_size=3, padding=1)``,
    :math:`h_{r,c} = b + \sum_{dr, dc} K_{dr+1, dc+1}\, x_{r+dr, c+dc}` with
    :math:`\Theta_{3(dr+1) + (dc+1)} = K_{dr+1, dc+1}^\top`; cells missing from the graph
    (outside the grid or masked) contribute zero, like zero padding.
    :meth:`from_conv2d` copies a ``Conv2d``'s weights.

    Args:
        in_channels: size of each input feature vector.
        out_channels: size of each output feature vector.
        num_types: number of edge types ``K`` (9 offsets of a 3x3 kernel by default).
        centre: the type whose weight applies to each node itself (``None``: no self term).
        bias: add a learnable bias.

    Shapes:
        x: [..., N, in_channels] (e.g. [B, T, N, F])
        edge_index: [2, E], edge_weight: [E] or ``None`` (all ones), edge_type: [E] int64
        output: [..., N, out_channels]
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_types: int = len(OFFSETS),
        centre: int | None = CENTRE,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if centre is not None and not 0 <= centre < num_types:
            raise ValueError(f"centre type {centre} outside [0, {num_types})")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.num_types, self.centre = num_types, centre
        self.weight = nn.Parameter(torch.empty(num_types, in_channels, out_channels))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Uniform in :math:`\pm 1/\sqrt{K \cdot F_{in}}` for weights and bias (the
        ``Conv2d`` default for a 3x3 kernel when ``K = 9``)."""
        bound = 1.0 / math.sqrt(self.num_types * self.in_channels)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    @classmethod
    def from_conv2d(cls, conv: nn.Conv2d) -> LatticeConv:
        """A layer computing exactly ``conv`` (3x3, stride 1, padding 1, zero padding, no
        dilation, one group) on a lattice graph typed by
        :func:`~stgraph.graph.lattice.lattice_offsets`."""
        ok = (
            tuple(conv.kernel_size) == (3, 3)
            and tuple(conv.stride) == (1, 1)
            and conv.padding in ((1, 1), "same")
            and tuple(conv.dilation) == (1, 1)
            and conv.groups == 1
            and conv.padding_mode == "zeros"
        )
        if not ok:
            raise ValueError(
                "from_conv2d needs kernel_size=3, stride=1, padding=1, dilation=1, groups=1 "
                f"and zero padding; got {conv}"
            )
        layer = cls(conv.in_channels, conv.out_channels, bias=conv.bias is not None)
        with torch.no_grad():
            # conv.weight [out, in, 3, 3] -> [3, 3, in, out] -> [9, in, out] (row-major offsets)
            layer.weight.copy_(conv.weight.permute(2, 3, 1, 0).reshape(9, *layer.weight.shape[1:]))
            if conv.bias is not None and layer.bias is not None:
                layer.bias.copy_(conv.bias)
        return layer.to(conv.weight.device)

    def _check(self, edge_index: Tensor, edge_type: Tensor) -> None:
        if edge_type.shape != (edge_index.size(1),):
            raise ValueError(
                f"edge_type must have shape [E]={edge_index.size(1)}, got {tuple(edge_type.shape)}"
            )
        if edge_type.numel():
            lo, hi = int(edge_type.min()), int(edge_type.max())
            if lo < 0 or hi >= self.num_types:
                raise ValueError(f"edge types span [{lo}, {hi}], expected [0, {self.num_types})")
            if self.centre is not None and bool((edge_type == self.centre).any()):
                raise ValueError(
                    f"an edge has the centre type {self.centre}; the centre weight already "
                    "applies to every node, so remove self-loops"
                )

    def _gather_plan(
        self, edge_index: Tensor, edge_type: Tensor, n: int
    ) -> tuple[Tensor, Tensor, Tensor] | None:
        """Which node fills each column block of the gather path: ``src[i, t]`` is the source
        of node ``i``'s edge of the ``t``-th type in use (``n``, a zero row, where it has
        none; ``i`` itself in the centre column), ``pos[i, t]`` that edge's position in the
        edge list (-1: none), ``used[k]`` whether type ``k`` is in use. ``None`` when a node
        has two edges of one type (the scatter path handles that)."""
        e, k = edge_index.size(1), self.num_types
        key = edge_index[1] * k + edge_type
        if torch.unique(key).numel() < e:
            return None
        pos = torch.full((n * k,), -1, dtype=torch.long, device=key.device)
        pos[key] = torch.arange(e, device=key.device)
        pos = pos.view(n, k)
        used = (pos >= 0).any(0)
        if self.centre is not None:
            used[self.centre] = True
        pos = pos[:, used]
        src = torch.cat([edge_index[0], edge_index[0].new_full((1,), n)])[pos]  # -1: n
        if self.centre is not None:
            src[:, int(used[: self.centre].sum())] = torch.arange(n, device=key.device)
        return src, pos, used

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None,
        edge_type: Tensor,
    ) -> Tensor:
        """Where every node has at most one edge of each type (any lattice), the neighbour of
        each type in use is gathered into a column block, ``[..., N, K' F_in]``, and one
        matmul with the stacked weights of those ``K'`` types does the rest (an im2col
        convolution, without the scatter path's ``[..., N, K, F_out]`` intermediate: a
        quarter of its memory for a ConvLSTM gate); other typed graphs take the scatter
        path. Both compute the equation above."""
        self._check(edge_index, edge_type)
        n = x.shape[-2]
        plan = self._gather_plan(edge_index, edge_type, n)
        if plan is None:
            return self._scatter(x, edge_index, edge_weight, edge_type)
        src, pos, used = plan
        padded = torch.cat([x, x.new_zeros(*x.shape[:-2], 1, x.size(-1))], dim=-2)
        cols = padded.index_select(-2, src.reshape(-1)).view(*x.shape[:-2], *src.shape, x.size(-1))
        if edge_weight is not None:  # the centre column (pos -1) keeps weight 1
            w = torch.cat([edge_weight.to(x.dtype), x.new_ones(1)])[pos]
            cols = cols * w.unsqueeze(-1)
        out = cols.flatten(-2) @ self.weight[used].flatten(0, 1)
        return out if self.bias is None else out + self.bias

    def _scatter(
        self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None, edge_type: Tensor
    ) -> Tensor:
        """Every node through every type's weight, ``[..., N, K, F_out]``, then one message
        per edge added into its target (any typed graph)."""
        n, k = x.shape[-2], self.num_types
        h = torch.einsum("...nf,kfo->...nko", x, self.weight)  # every node through every type
        flat = h.reshape(*h.shape[:-3], n * k, self.out_channels)
        msg = flat.index_select(-2, edge_index[0] * k + edge_type)  # [..., E, out]
        if edge_weight is not None:
            msg = msg * edge_weight.to(msg.dtype).unsqueeze(-1)
        if self.centre is None:
            out = h.new_zeros(*h.shape[:-3], n, self.out_channels)
        else:
            out = h.select(-2, self.centre)
        out = out.index_add(-2, edge_index[1], msg)
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, num_types={self.num_types}, "
            f"centre={self.centre}, bias={self.bias is not None}"
        )
