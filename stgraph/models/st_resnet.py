"""ST-ResNet: residual CNNs over closeness, period and trend frames on a lattice (Zhang et al.,
AAAI 2017; seed article secs. 3.1, 3.2 and 5.3.1)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from stgraph.models.common import add_last_value, covariate_width, time_features, with_time_features
from stgraph.models.convlstm import GRID_CAPABILITIES, LatticeConv3x3, lattice_edge_types
from stgraph.models.registry import register_model


def st_resnet_lags(
    lookback: int, steps_per_day: int, closeness: int, period: int, trend: int
) -> tuple[list[int], list[int], list[int]]:
    r"""Lags (steps before the first forecast step, ``1`` = the last input) of the closeness,
    period and trend frames (Zhang et al., AAAI 2017, sec. 3.2: closeness
    :math:`X_{t-l_c}..X_{t-1}`, period :math:`X_{t-l_p p}..X_{t-p}`, trend
    :math:`X_{t-l_q q}..X_{t-q}`), taken from what a window of ``lookback`` steps holds.

    The intervals are the paper's, one day :math:`p` and one week :math:`q = 7p`, when the
    lookback reaches back that far (:math:`l_p p \le L`, :math:`l_q q \le L`). Otherwise they
    are derived from the window: the trend interval is :math:`q = \lfloor L / l_q \rfloor`,
    so the oldest trend frame is (close to) the oldest input step, and the period interval
    is :math:`p = \max(1, \lfloor L / (2 l_p) \rfloor)`, spreading the period frames over the
    recent half of the window. Frames may coincide (e.g. ``p = 1`` repeats the closeness).

    Args:
        lookback: ``L``.
        steps_per_day: steps in a day (the paper's period interval).
        closeness: :math:`l_c` frames at interval 1 (``<= L``).
        period: :math:`l_p` frames.
        trend: :math:`l_q` frames.

    Returns:
        the three lists of lags, each in ``1..L``, oldest first.
    """
    if not 1 <= closeness <= lookback or period < 1 or trend < 1 or period > lookback:
        raise ValueError(
            f"st-resnet needs 1 <= closeness <= lookback={lookback}, 1 <= period <= lookback "
            f"and trend >= 1; got closeness={closeness}, period={period}, trend={trend}"
        )
    if trend > lookback:
        raise ValueError(f"st-resnet: trend={trend} frames do not fit lookback={lookback}")
    p = steps_per_day if period * steps_per_day <= lookback else max(1, lookback // (2 * period))
    q = 7 * steps_per_day if trend * 7 * steps_per_day <= lookback else lookback // trend

    def lags(n: int, step: int) -> list[int]:
        return [k * step for k in range(n, 0, -1)]

    return lags(closeness, 1), lags(period, p), lags(trend, q)


class ResUnit(nn.Module):
    r"""Residual unit of ST-ResNet (Zhang et al., AAAI 2017, eq. 3 and Fig. 3; He et al.,
    ECCV 2016 "identity mappings" pre-activation form; seed article sec. 3.2, ResSTCN's
    :math:`\mathrm{out} = F(\mathrm{in}) + \mathrm{in}`): two ReLU + 3x3 convolutions on a
    lattice (:class:`~stgraph.models.convlstm.LatticeConv3x3`) added to the input.

    .. math::
        X^{(l+1)} = X^{(l)} + W_2 * \mathrm{ReLU}(W_1 * \mathrm{ReLU}(X^{(l)}) + b_1) + b_2

    Differences from the paper: no batch normalisation (the paper's optional BN would tie
    a window's forecast to the other windows of its training batch).

    Args:
        dim: feature size (filters).

    Shapes:
        x: [B, N, dim]; edge_index: [2, E]; edge_type: [E] -> [B, N, dim]
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = LatticeConv3x3(dim, dim), LatticeConv3x3(dim, dim)

    def reset_parameters(self) -> None:
        """Conv2d-default initialisation of both convolutions."""
        self.conv1.reset_parameters()
        self.conv2.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        h = self.conv1(x.relu(), edge_index, edge_type)
        return x + self.conv2(h.relu(), edge_index, edge_type)


class _Branch(nn.Module):
    """One ST-ResNet component: Conv1, ``units`` residual units, ReLU, Conv2."""

    def __init__(self, in_channels: int, dim: int, out_channels: int, units: int) -> None:
        super().__init__()
        self.conv1 = LatticeConv3x3(in_channels, dim)
        self.units = nn.ModuleList(ResUnit(dim) for _ in range(units))
        self.conv2 = LatticeConv3x3(dim, out_channels)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        h = self.conv1(x, edge_index, edge_type)
        for unit in self.units:
            h = unit(h, edge_index, edge_type)
        out: Tensor = self.conv2(h.relu(), edge_index, edge_type)
        return out


@register_model(
    "st-resnet", "ST-ResNet: residual grid CNNs over closeness, period and trend frames, fused"
)
class STResNet(nn.Module):
    r"""ST-ResNet (Zhang et al., AAAI 2017; seed article secs. 3.1 "ResNet", 3.2 residual
    convolution and 5.3.1 CNN) for gridded fields: three residual CNN components read the
    closeness, period and trend frames (stacked as channels, sec. 3.2 of the paper; the lags
    come from :func:`st_resnet_lags`), are fused with learned per-cell weights, and an
    external component maps the calendar of the forecast steps to an additive term:

    .. math::
        X_\bullet &= \mathrm{Conv}_2\big(\mathrm{ReLU}(\mathrm{ResUnit}^{\,\ell}(
            \mathrm{Conv}_1([X_{t-k}]_{k \in \mathrm{lags}_\bullet})))\big),
            \quad \bullet \in \{c, p, q\} \\
        X_{Res} &= W_c \circ X_c + W_p \circ X_p + W_q \circ X_q, \qquad
        X_{Ext} = W_{e2}\, \mathrm{ReLU}(W_{e1} E_{t..t+H-1} + b_{e1}) + b_{e2} \\
        \hat Y_{t..t+H-1} &= X_{t-1} + X_{Res} + X_{Ext}

    where every convolution is 3x3 on the lattice (:class:`~stgraph.models.convlstm.LatticeConv3x3`)
    and :math:`E` are the calendar features of the ``H`` forecast steps. Conv2 outputs all
    ``H`` steps at once (``H * F_out`` channels per cell).

    Defaults: 64 filters, :math:`l_c = 3, l_p = 1, l_q = 1` frames and 4 residual units, the
    paper's BikeNYC setting (the smaller grid; TaxiBJ uses 12 units), a 10-unit embedding in
    the external component.

    Differences from the paper: the period and trend intervals shrink to what the lookback
    holds when a day / week does not fit (:func:`st_resnet_lags`); the output has no tanh
    (stgraph scales by z-score, not to [-1, 1]) and is added to the last observed frame
    (the network forecasts the change); ``H`` steps instead of one; no batch normalisation
    (:class:`ResUnit`); the external component is shared by all cells (its input, the
    calendar, is the same everywhere) and reads only the calendar (no weather/holidays
    unless given as further covariates). The kernels cover the lattice's neighbours: 3x3 on
    a queen (8-neighbour) lattice as in the paper, the 5-point cross on a rook one.

    Args:
        in_channels: input value features ``F``.
        out_channels: forecast features ``F_out``.
        lookback: ``L``.
        horizon: ``H``.
        num_nodes: ``N`` lattice cells (the fusion weights are per cell).
        num_covariates: covariate channels ``C``.
        steps_per_day: steps in a day (period interval).
        dim: filters of every convolution.
        units: residual units per component.
        closeness: closeness frames :math:`l_c`.
        period: period frames :math:`l_p`.
        trend: trend frames :math:`l_q`.

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
        lookback: int,
        horizon: int,
        num_nodes: int,
        num_covariates: int = 2,
        steps_per_day: int = 288,
        dim: int = 64,
        units: int = 4,
        closeness: int = 3,
        period: int = 1,
        trend: int = 1,
    ) -> None:
        super().__init__()
        self.horizon, self.out_channels, self.num_covariates = horizon, out_channels, num_covariates
        self.lags = st_resnet_lags(lookback, steps_per_day, closeness, period, trend)
        frame, out = in_channels + covariate_width(num_covariates), horizon * out_channels
        self.branches = nn.ModuleList(
            _Branch(len(lags) * frame, dim, out, units) for lags in self.lags
        )
        self.fusion = nn.Parameter(torch.empty(3, num_nodes, out))
        width = horizon * covariate_width(num_covariates)
        self.external = (
            nn.Sequential(nn.Linear(width, 10), nn.ReLU(), nn.Linear(10, out)) if width else None
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Conv2d-default convolutions, fusion weights 1/3 (the mean of the components),
        default ``nn.Linear`` external layers."""
        for m in self.modules():
            if isinstance(m, LatticeConv3x3 | nn.Linear):
                m.reset_parameters()
        nn.init.constant_(self.fusion, 1.0 / 3.0)

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        covariates: Tensor | None = None,
    ) -> Tensor:
        b, lookback, n, _ = x.shape
        types = lattice_edge_types(edge_index, n)
        frames = with_time_features(x, covariates, self.num_covariates)
        res = x.new_zeros(b, n, self.horizon * self.out_channels)
        for lags, branch, w in zip(self.lags, self.branches, self.fusion, strict=True):
            stacked = torch.cat([frames[:, lookback - k] for k in lags], -1)
            res = res + w * branch(stacked, edge_index, types)
        if self.external is not None:
            future = time_features(
                None if covariates is None else covariates[:, lookback:],
                self.num_covariates,
                x.new_empty(b, self.horizon, n, 0),
            )
            res = res + self.external(future.permute(0, 2, 1, 3).reshape(b, n, -1))
        out = res.reshape(b, n, self.horizon, self.out_channels).transpose(1, 2)
        return add_last_value(out, x)
