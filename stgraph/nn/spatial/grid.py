"""2-D convolution for nodes laid out on a regular grid."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class GridConv(nn.Module):
    r"""``Conv2d`` over nodes that form an ``H x W`` grid in row-major order, with the
    spatial-layer signature (the edge arguments are ignored), so grid models (ConvLSTM,
    attention-CNN) take it wherever a graph layer goes.

    .. math::
        H_{:, u, v} = b + \sum_{c} \sum_{(p, q)} W_{:, c, p, q}\, X_{c, u + p, v + q}

    ``'same'`` zero padding. The ``[..., H*W, F]`` input is viewed as a channels-last image
    (no copy) and the output is viewed back.

    Args:
        in_channels: input feature size.
        out_channels: output feature size.
        grid: ``(H, W)`` with ``H * W = N``.
        kernel_size: odd kernel size.

    Shapes:
        x: [..., H*W, in_channels] -> [..., H*W, out_channels]
    """

    def __init__(
        self, in_channels: int, out_channels: int, grid: tuple[int, int], kernel_size: int = 3
    ) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.grid, self.kernel_size = tuple(grid), kernel_size
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default Conv2d initialisation."""
        self.conv.reset_parameters()

    def forward(
        self, x: Tensor, edge_index: Tensor | None = None, edge_weight: Tensor | None = None
    ) -> Tensor:
        lead, (h, w) = x.shape[:-2], self.grid
        img = x.reshape(-1, h, w, x.shape[-1]).permute(0, 3, 1, 2)
        out = self.conv(img.contiguous(memory_format=torch.channels_last))
        return out.permute(0, 2, 3, 1).reshape(*lead, h * w, self.out_channels)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, grid={self.grid}, "
            f"kernel_size={self.kernel_size}"
        )
