"""Multi-head self-attention over the nodes of a graph signal."""

from __future__ import annotations

from torch import Tensor, nn

from stgraph.nn.attention.mechanisms import MultiHeadAttention
from stgraph.nn.ops.propagate import graph_operator


class SpatialAttention(nn.Module):
    r"""Spatial multi-head self-attention: at every time step each node attends over the nodes
    (Vaswani et al., NeurIPS 2017, eq. 1 along the node axis, as in GMAN's spatial attention,
    Zheng et al., AAAI 2020, eq. 5; seed article sec. 4.1).

    .. math::
        H = \mathrm{MHA}(X, X, X), \qquad
        \alpha_{ij} = 0 \text{ unless } j \to i \in E \text{ or } j = i \text{ (masked)}

    Masked by the adjacency it is a dense multi-head graph attention; unmasked it learns a
    fully connected spatial dependency (then ``edge_index`` may be ``None``). Cost and memory
    grow as ``N^2`` per time step.

    Args:
        in_channels: input feature size.
        out_channels: output size (divisible by ``heads``).
        heads: attention heads.
        dropout: attention dropout.
        masked: restrict attention to in-neighbours and the node itself.

    Shapes:
        x: [..., N, in_channels]; edge_index: [2, E] or ``None`` (unmasked)
        output: [..., N, out_channels]
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        heads: int = 4,
        dropout: float = 0.0,
        masked: bool = True,
    ) -> None:
        super().__init__()
        self.masked = masked
        self.attn = MultiHeadAttention(
            out_channels, heads, dropout, kv_dim=in_channels, q_dim=in_channels, axis=-2
        )

    def reset_parameters(self) -> None:
        """Re-initialise the projections."""
        self.attn.reset_parameters()

    def forward(
        self, x: Tensor, edge_index: Tensor | None = None, edge_weight: Tensor | None = None
    ) -> Tensor:
        mask = None
        if self.masked:
            if edge_index is None:
                raise ValueError("a masked SpatialAttention needs edge_index")
            op = graph_operator(
                self, edge_index, None, x.shape[-2], "none", self_loops=True, layout="dense"
            )
            mask = op.matrix != 0
        out: Tensor = self.attn(x, attn_mask=mask)
        return out

    def extra_repr(self) -> str:
        return f"masked={self.masked}"
