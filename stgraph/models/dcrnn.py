"""DCRNN: diffusion-convolution GRU encoder-decoder."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from stgraph.models.common import covariate_width, time_features
from stgraph.models.registry import register_model
from stgraph.nn import DiffusionConv, GraphGRUCell


@register_model("dcrnn", "Diffusion-convolution GRU encoder-decoder (Li et al., ICLR 2018)")
class DCRNN(nn.Module):
    r"""Diffusion Convolutional Recurrent Neural Network (Li et al., ICLR 2018, sec. 2.3).

    A stack of :class:`~stgraph.nn.GraphGRUCell` with :class:`~stgraph.nn.DiffusionConv`
    gates encodes the ``L`` input steps; a second stack, initialised with the encoder state,
    decodes ``H`` steps autoregressively, each step fed its own previous prediction (the
    first with zeros, DCRNN's GO symbol) and the known calendar features of the target step.

    Scheduled sampling (Bengio et al., NeurIPS 2015; DCRNN sec. 2.3): during training the
    engine may pass the true ``targets`` and a probability ``teacher_forcing``
    (:math:`\epsilon_i`, decayed by ``TrainConfig.teacher_forcing_decay``); at each decoder
    step one coin for the whole batch decides whether the next input is the true previous
    target (own prediction where the target is missing) or the model's own prediction. In
    eval mode, or without targets, the decoder always feeds back its own predictions.
    Published defaults (the paper's METR-LA setting): ``hidden=64``, ``layers=2``, ``k=2``
    and :math:`\tau = 2000` training steps.

    Args:
        in_channels: input value features ``F``.
        out_channels: forecast features ``F_out``.
        horizon: decoded steps ``H``.
        hidden: GRU state size per node.
        layers: stacked cells in encoder and decoder.
        k: diffusion steps ``K``.
        num_covariates: covariate channels ``C`` (0 = no covariates).

    Shapes:
        x: [B, L, N, in_channels]; covariates: [B, L + H, 1 or N, C] or ``None``
        edge_index: [2, E], edge_weight: [E]
        targets: [B, H, N, out_channels] (scaled, ``NaN`` where missing) or ``None``
        output: [B, H, N, out_channels]
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        horizon: int,
        hidden: int = 64,
        layers: int = 2,
        k: int = 2,
        num_covariates: int = 2,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.horizon = in_channels, out_channels, horizon
        self.num_covariates = num_covariates
        cov = covariate_width(num_covariates)

        def conv(i: int, o: int) -> nn.Module:
            return DiffusionConv(i, o, k=k)

        def stack(first: int) -> nn.ModuleList:
            return nn.ModuleList(
                GraphGRUCell(first if j == 0 else hidden, hidden, conv) for j in range(layers)
            )

        self.encoder = stack(in_channels + cov)
        self.decoder = stack(out_channels + cov)
        self.project = nn.Linear(hidden, out_channels)

    def reset_parameters(self) -> None:
        """Re-initialise every cell and the projection."""
        for cell in [*self.encoder, *self.decoder]:
            cell.reset_parameters()
        self.project.reset_parameters()

    @staticmethod
    def _step(
        cells: nn.ModuleList, inp: Tensor, hs: list[Tensor | None], ei: Tensor, ew: Tensor | None
    ) -> Tensor:
        for j, cell in enumerate(cells):
            hs[j] = cell(inp, hs[j], ei, ew)
            inp = hs[j]  # type: ignore[assignment]
        return inp

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        covariates: Tensor | None = None,
        targets: Tensor | None = None,
        teacher_forcing: float = 0.0,
    ) -> Tensor:
        b, lookback, n, _ = x.shape
        sampling = self.training and targets is not None and teacher_forcing > 0
        tf = time_features(
            covariates, self.num_covariates, x.new_empty(b, lookback + self.horizon, n, 0)
        )
        hs: list[Tensor | None] = [None] * len(self.encoder)
        for t in range(lookback):
            self._step(
                self.encoder, torch.cat([x[:, t], tf[:, t]], -1), hs, edge_index, edge_weight
            )
        prev = x.new_zeros(b, n, self.out_channels)
        outs = []
        for t in range(self.horizon):
            h = self._step(
                self.decoder,
                torch.cat([prev, tf[:, lookback + t]], -1),
                hs,
                edge_index,
                edge_weight,
            )
            prev = self.project(h)
            outs.append(prev)
            if sampling and float(torch.rand(())) < teacher_forcing:
                truth = targets[:, t]  # type: ignore[index]
                prev = torch.where(torch.isnan(truth), prev, truth)
        return torch.stack(outs, dim=1)
