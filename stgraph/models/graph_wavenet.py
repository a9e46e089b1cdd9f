"""Graph WaveNet: gated dilated temporal convolutions + diffusion / adaptive graph convolutions."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from stgraph.models.common import covariate_width, with_time_features
from stgraph.models.registry import Capabilities, register_model
from stgraph.nn import AdaptiveAdjacency, GatedTemporalConv, GraphOperator, graph_operator
from stgraph.nn.ops.init import glorot_
from stgraph.nn.spatial.polynomial import graph_polynomial


class _WaveNetLayer(nn.Module):
    r"""One Graph WaveNet layer (Wu et al., IJCAI 2019, fig. 3): a gated dilated causal
    convolution without padding (the sequence shrinks by ``(K_t - 1) d`` steps), a skip read-out
    of its last step and, unless ``last``, the graph convolution of eq. 7 on the gated output,
    dropout, the residual (aligned on the last steps) and batch norm.

    .. math::
        Z = \mathrm{gtcn}_d(H), \qquad
        H' = \mathrm{BN}\Big(H + \sum_{k=0}^{K} \big(P_f^k Z \Theta_{k,1} + P_b^k Z \Theta_{k,2}
             + \tilde A^k Z \Theta_{k,3}\big)\Big)

    (the three :math:`k = 0` terms are one). The last layer of the network only feeds the
    skip sum: its graph convolution, residual and batch norm would compute a value nothing
    reads, so they are not built.
    """

    def __init__(
        self,
        dim: int,
        skip: int,
        kernel_size: int,
        dilation: int,
        k: int,
        dropout: float,
        last: bool,
    ) -> None:
        super().__init__()
        self.shrink, self.k = (kernel_size - 1) * dilation, k
        self.temporal = GatedTemporalConv(dim, dim, kernel_size, dilation)
        self.skip = nn.Linear(dim, skip)
        self.gconv = None if last else nn.Linear(dim * (1 + 3 * k), dim)
        self.norm = None if last else nn.BatchNorm1d(dim)
        self.drop = nn.Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot weights, zero biases, fresh batch-norm statistics."""
        self.temporal.reset_parameters()
        glorot_(self.skip)
        if self.gconv is not None and self.norm is not None:
            glorot_(self.gconv)
            self.norm.reset_parameters()

    def forward(self, h: Tensor, ops: list[GraphOperator]) -> tuple[Tensor | None, Tensor]:
        # Steps that read the causal zero padding are dropped: a "valid" dilated convolution.
        z = self.temporal(h)[:, self.shrink :]
        skip = self.skip(z[:, -1])
        if self.gconv is None or self.norm is None:
            return None, skip
        out = self.drop(graph_polynomial(z, self.gconv, ops, self.k)) + h[:, self.shrink :]
        return self.norm(out.reshape(-1, out.shape[-1])).view_as(out), skip


@register_model("graph-wavenet", "Graph WaveNet: gated dilated TCN + diffusion/adaptive graph conv")
class GraphWaveNet(nn.Module):
    r"""Graph WaveNet (Wu, Pan, Long, Jiang & Zhang, IJCAI 2019).

    The inputs (values and calendar features) are mapped to ``dim`` residual channels, left
    padded with zeros to the receptive field :math:`R` and run through ``blocks x layers``
    layers with dilations :math:`1, 2, 4, \dots` restarting in each block. Layer ``l`` gates a
    dilated causal convolution, adds its last step to the skip sum, and mixes the gated output
    over the forward and backward random walks of the given graph,
    :math:`P_f = D_O^{-1} A` and :math:`P_b = D_I^{-1} A^\top`, and the self-adaptive adjacency
    shared by all layers (eqs. 5, 7, 8):

    .. math::
        \tilde A = \mathrm{softmax}(\mathrm{ReLU}(E_1 E_2^\top)), \qquad
        Z^l = \tanh(\Theta_f \star_{d_l} H^{l-1}) \odot \sigma(\Theta_g \star_{d_l} H^{l-1}),

        H^l = \mathrm{BN}\Big(H^{l-1} + \sum_{k=0}^{K} \big(P_f^k Z^l \Theta^l_{k,1}
              + P_b^k Z^l \Theta^l_{k,2} + \tilde A^k Z^l \Theta^l_{k,3}\big)\Big), \qquad
        S = \sum_l Z^l_{\text{last}} W^l_{s},

        \hat Y = W_2\, \mathrm{ReLU}\big(W_1\, \mathrm{ReLU}(S)\big)

    with :math:`\hat Y` reshaped to the ``H`` steps. The receptive field is
    :math:`R = 1 + \text{blocks} \sum_{j<\text{layers}} (K_t - 1) 2^j` (13 by default);
    lookbacks shorter than ``R`` are zero-padded as in the paper's code, longer ones are
    refused (``ValueError``: add blocks or layers).

    Args:
        in_channels: input value features ``F``.
        out_channels: forecast features ``F_out``.
        lookback: ``L`` (at most ``R``).
        horizon: ``H``.
        num_nodes: ``N`` (node embeddings).
        num_covariates: covariate channels ``C`` (0 = none).
        dim: residual and dilation channels (paper: 32, 32); skip channels are ``8 * dim``
            and end channels ``16 * dim`` (paper: 256 and 512 at ``dim = 32``). Default 32.
        blocks: blocks of layers (paper: 4). Default 4.
        layers: layers per block, dilations ``1, 2, ..., 2^(layers-1)`` (paper: 2). Default 2.
        kernel_size: temporal kernel size ``K_t`` (paper: 2). Default 2.
        k: diffusion / adaptive propagation steps ``K`` (paper: 2). Default 2.
        embedding_dim: size of :math:`E_1, E_2` (paper: 10). Default 10.
        dropout: dropout on the graph-convolution output (paper: 0.3). Default 0.3.

    Shapes:
        x: [B, L, N, in_channels]; covariates: [B, L + H, 1 or N, C] or ``None``
        edge_index: [2, E], edge_weight: [E]
        output: [B, H, N, out_channels]

    Differences from the paper: the calendar covariates (sin/cos time of day and day of
    week) are input channels, as for every stgraph model (the paper's code feeds the time of
    day as a second channel); the dead graph convolution of the last layer is not built; the
    embeddings are random (the paper's code can also initialise them from the graph's SVD).
    """

    capabilities = Capabilities(adaptive_graph=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        lookback: int,
        horizon: int,
        num_nodes: int,
        num_covariates: int = 2,
        dim: int = 32,
        blocks: int = 4,
        layers: int = 2,
        kernel_size: int = 2,
        k: int = 2,
        embedding_dim: int = 10,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.num_covariates, self.horizon, self.out_channels = num_covariates, horizon, out_channels
        dilations = [2**j for _ in range(blocks) for j in range(layers)]
        self.receptive_field = 1 + sum((kernel_size - 1) * d for d in dilations)
        self._check_lookback(lookback)
        skip, end = 8 * dim, 16 * dim
        self.inp = nn.Linear(in_channels + covariate_width(num_covariates), dim)
        self.adjacency = AdaptiveAdjacency(num_nodes, embedding_dim)
        self.layers = nn.ModuleList(
            _WaveNetLayer(dim, skip, kernel_size, d, k, dropout, last=i == len(dilations) - 1)
            for i, d in enumerate(dilations)
        )
        self.end = nn.Sequential(
            nn.ReLU(), nn.Linear(skip, end), nn.ReLU(), nn.Linear(end, horizon * out_channels)
        )

    def _check_lookback(self, lookback: int) -> None:
        if lookback > self.receptive_field:
            raise ValueError(
                f"graph-wavenet: lookback {lookback} exceeds the receptive field "
                f"{self.receptive_field}; add blocks or layers (or shorten the lookback)"
            )

    def reset_parameters(self) -> None:
        """Re-initialise the input map, the embeddings, every layer and the end layers."""
        glorot_(self.inp)
        self.adjacency.reset_parameters()
        for layer in self.layers:
            layer.reset_parameters()  # type: ignore[operator]
        for m in self.end:
            if isinstance(m, nn.Linear):
                m.reset_parameters()

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        covariates: Tensor | None = None,
    ) -> Tensor:
        b, lookback, n, _ = x.shape
        self._check_lookback(lookback)
        z = with_time_features(x, covariates, self.num_covariates)
        h = self.inp(F.pad(z, (0, 0, 0, 0, self.receptive_field - lookback, 0)))
        ops = [
            graph_operator(self, edge_index, edge_weight, n, "rw", against_edges=a)
            for a in (False, True)
        ]
        ops.append(GraphOperator.from_dense(self.adjacency()))
        total: Tensor | int = 0
        for layer in self.layers:
            out, skip = layer(h, ops)
            total = total + skip
            h = h if out is None else out
        y: Tensor = self.end(total)
        return y.reshape(b, n, self.horizon, self.out_channels).transpose(1, 2)

    def extra_repr(self) -> str:
        return f"receptive_field={self.receptive_field}"
