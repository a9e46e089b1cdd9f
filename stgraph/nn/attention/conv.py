"""Attention-CNN: a convolution followed by channel and spatial attention (CBAM-style)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from stgraph.nn.ops.init import glorot_
from stgraph.nn.spatial.gcn import GCNConv
from stgraph.nn.temporal.graph_recurrent import SpatialFactory


class ChannelAttention(nn.Module):
    r"""Channel attention (Woo et al., CBAM, ECCV 2018, eq. 2), pooling over the nodes (the
    positions of a grid).

    .. math::
        M_c = \sigma\big(\mathrm{MLP}(\mathrm{AvgPool}_N(X))
            + \mathrm{MLP}(\mathrm{MaxPool}_N(X))\big), \qquad X' = M_c \odot X

    Args:
        channels: feature size ``C``.
        reduction: bottleneck ratio of the shared MLP.

    Shapes:
        x: [..., N, C] -> [..., N, C]
    """

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.channels, self.reduction = channels, reduction
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot weights, zero biases."""
        glorot_(self.mlp[0], self.mlp[2])

    def forward(self, x: Tensor) -> Tensor:
        pooled = torch.stack([x.mean(dim=-2), x.amax(dim=-2)])  # [2, ..., C]
        return x * torch.sigmoid(self.mlp(pooled).sum(0)).unsqueeze(-2)

    def extra_repr(self) -> str:
        return f"{self.channels}, reduction={self.reduction}"


class AttentionCNN(nn.Module):
    r"""Attention-CNN block (seed article sec. 6.2.1): a convolution extracts spatial
    features, then attention re-weights channels and positions — CBAM's sequential channel
    and spatial attention (Woo et al., ECCV 2018, eqs. 1-3), where the seed leaves the
    attention layer vague.

    .. math::
        F = \mathrm{ReLU}(\mathrm{conv}(X)), \quad F' = M_c(F) \odot F, \quad
        F'' = \sigma\big(g([\mathrm{AvgPool}_C(F'); \mathrm{MaxPool}_C(F')])\big) \odot F'

    ``conv`` and the spatial-gate layer ``g`` are any spatial layers: a
    :class:`~stgraph.nn.GridConv` on grids (CBAM's 7x7 convolution for ``g``), a graph
    convolution on graphs (default :class:`~stgraph.nn.GCNConv`). The seed's pooling and
    dense read-out belong to the model, not to this block.

    Args:
        in_channels: input feature size.
        out_channels: output feature size.
        conv: factory ``conv(in, out)`` of the feature layer (default GCN).
        gate_conv: factory of ``g`` (``2 -> 1``; default: ``conv``).
        reduction: channel-attention bottleneck ratio.

    Shapes:
        x: [..., N, in_channels]; edge_index: [2, E] (graph layers) -> [..., N, out_channels]
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        conv: SpatialFactory | None = None,
        gate_conv: SpatialFactory | None = None,
        reduction: int = 4,
    ) -> None:
        super().__init__()
        self.conv = (conv or GCNConv)(in_channels, out_channels)
        self.channel = ChannelAttention(out_channels, reduction)
        self.gate = (gate_conv or conv or GCNConv)(2, 1)

    def reset_parameters(self) -> None:
        """Re-initialise every sub-layer."""
        for m in (self.conv, self.channel, self.gate):
            m.reset_parameters()  # type: ignore[operator]

    def forward(
        self, x: Tensor, edge_index: Tensor | None = None, edge_weight: Tensor | None = None
    ) -> Tensor:
        f = self.channel(torch.relu(self.conv(x, edge_index, edge_weight)))
        pooled = torch.stack([f.mean(dim=-1), f.amax(dim=-1)], dim=-1)  # [..., N, 2]
        return f * torch.sigmoid(self.gate(pooled, edge_index, edge_weight))
