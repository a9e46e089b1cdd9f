"""Residual spatio-temporal block with layer norm and dropout."""

from __future__ import annotations

from torch import Tensor, nn


class FeedForward(nn.Sequential):
    r"""Position-wise feed-forward network (Vaswani et al., NeurIPS 2017, eq. 2, with GELU).

    .. math::
        \mathrm{FFN}(x) = W_2\, \mathrm{Dropout}(\mathrm{GELU}(W_1 x + b_1)) + b_2

    Args:
        dim: input and output size.
        hidden: hidden size (default ``2 * dim``).
        dropout: dropout after the activation.

    Shapes:
        x: [..., dim] -> [..., dim]
    """

    def __init__(self, dim: int, hidden: int | None = None, dropout: float = 0.0) -> None:
        hidden = hidden or 2 * dim
        super().__init__(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim)
        )

    def reset_parameters(self) -> None:
        """PyTorch's default Linear initialisation."""
        for m in self:
            if isinstance(m, nn.Linear):
                m.reset_parameters()


class ResidualSTBlock(nn.Module):
    r"""Pre-norm residual spatio-temporal block (seed article sec. 4.4: residual connection,
    layer normalisation and dropout around every sub-layer; sec. 3.2: ResSTCN's
    :math:`\mathrm{out} = F(\mathrm{in}) + \mathrm{in}`; He et al., CVPR 2016; Ba et al.,
    2016; Xiong et al., ICML 2020 for the pre-norm placement).

    .. math::
        H \leftarrow H + \mathrm{Drop}(S(\mathrm{LN}(H), G)), \quad
        H \leftarrow H + \mathrm{Drop}(T(\mathrm{LN}(H))), \quad
        H \leftarrow H + \mathrm{Drop}(\mathrm{FFN}(\mathrm{LN}(H)))

    The spatial layer ``S`` (any ``m(x, edge_index, edge_weight)``, ``dim -> dim``) and the
    temporal layer ``T`` (any ``m(x)`` on ``[B, T, N, dim]``: attention, TCN, RNN) are
    arguments; either may be ``None``.

    Args:
        dim: feature size.
        spatial: the spatial sub-layer, or ``None``.
        temporal: the temporal sub-layer, or ``None``.
        dropout: dropout on every sub-layer output.
        feedforward: add a :class:`FeedForward` sub-layer.

    Shapes:
        h: [B, T, N, dim] -> [B, T, N, dim]
    """

    def __init__(
        self,
        dim: int,
        spatial: nn.Module | None,
        temporal: nn.Module | None,
        dropout: float = 0.0,
        feedforward: bool = True,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.spatial, self.temporal = spatial, temporal
        self.ffn = FeedForward(dim, dropout=dropout) if feedforward else None
        used = [m for m in (spatial, temporal, self.ffn) if m is not None]
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in used)
        self.drop = nn.Dropout(dropout)

    def reset_parameters(self) -> None:
        """Re-initialise every sub-layer and norm."""
        for m in (self.spatial, self.temporal, self.ffn, *self.norms):
            if m is not None:
                m.reset_parameters()

    def forward(
        self, h: Tensor, edge_index: Tensor | None = None, edge_weight: Tensor | None = None
    ) -> Tensor:
        norms = iter(self.norms)
        if self.spatial is not None:
            h = h + self.drop(self.spatial(next(norms)(h), edge_index, edge_weight))
        if self.temporal is not None:
            h = h + self.drop(self.temporal(next(norms)(h)))
        if self.ffn is not None:
            h = h + self.drop(self.ffn(next(norms)(h)))
        return h

    def extra_repr(self) -> str:
        return f"dim={self.dim}, dropout={self.drop.p}"
