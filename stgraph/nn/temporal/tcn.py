"""Gated dilated causal temporal convolution (WaveNet / Graph WaveNet)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stgraph.nn.ops.init import glorot_


class GatedTemporalConv(nn.Module):
    r"""Gated, dilated, causal convolution along time (van den Oord et al., WaveNet, 2016,
    eq. 2; Wu et al., Graph WaveNet, IJCAI 2019, eq. 8; the temporal convolution layer of
    the seed article's STCN, sec. 3.2).

    .. math::
        H_t = \tanh\Big(\sum_{j=0}^{K-1} W_{f,j} X_{t - jd} + b_f\Big) \odot
              \sigma\Big(\sum_{j=0}^{K-1} W_{g,j} X_{t - jd} + b_g\Big)

    Causal: step ``t`` reads steps ``t, t-d, ..., t-(K-1)d`` only; the sequence is left-padded
    with zeros so the output keeps ``T`` steps (receptive field ``(K-1) d + 1``). Works on the
    ``[B, T, N, F]`` layout directly (the taps are time-shifted slices, no transposes).

    Args:
        in_channels: input feature size.
        out_channels: output feature size.
        kernel_size: taps ``K``.
        dilation: dilation ``d``.
        gated: tanh-sigmoid gating (else a plain causal convolution).

    Shapes:
        x: [B, T, N, in_channels] -> [B, T, N, out_channels]
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 2,
        dilation: int = 1,
        gated: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.dilation, self.gated = kernel_size, dilation, gated
        self.lin = nn.Linear(in_channels * kernel_size, out_channels * (2 if gated else 1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot weights, zero biases."""
        glorot_(self.lin)

    def forward(self, x: Tensor) -> Tensor:
        t, d, k = x.shape[1], self.dilation, self.kernel_size
        xp = F.pad(x, (0, 0, 0, 0, (k - 1) * d, 0))
        taps = torch.cat([xp[:, (k - 1 - j) * d : (k - 1 - j) * d + t] for j in range(k)], -1)
        z = self.lin(taps)
        if not self.gated:
            return z
        f, g = z.chunk(2, dim=-1)
        return torch.tanh(f) * torch.sigmoid(g)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"dilation={self.dilation}, gated={self.gated}"
        )
