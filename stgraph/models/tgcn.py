"""T-GCN and A3T-GCN: a GRU whose gates are GCN graph convolutions, read out from its last
hidden state (T-GCN) or from an attention summary of all its hidden states (A3T-GCN)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from stgraph.models.common import HorizonHead, covariate_width, with_time_features
from stgraph.models.registry import register_model
from stgraph.nn import GCNConv, GraphGRUCell, RecurrentLayer
from stgraph.nn.ops.init import glorot_


class LastStep(nn.Module):
    """The last hidden state of a sequence (T-GCN's read-out).

    Shapes:
        h: [B, L, N, d] -> [B, N, d]
    """

    def forward(self, h: Tensor) -> Tensor:
        return h[:, -1]


class StepAttention(nn.Module):
    r"""Soft attention over the steps of a hidden-state sequence, scored by a two-layer
    perceptron (the attention model of A3T-GCN, Bai et al., ISPRS Int. J. Geo-Inf. 2021).

    .. math::
        e_t = w_2^\top \tanh(W_1 h_t + b_1), \qquad
        \alpha_t = \frac{\exp e_t}{\sum_{s=1}^{L} \exp e_s}, \qquad
        C = \sum_{t=1}^{L} \alpha_t h_t

    Every node scores its own sequence with the shared weights.

    Where stgraph differs: the paper's perceptron has no activation between its two layers
    (it would collapse into one linear score); a ``tanh`` is placed there (Bahdanau's additive
    score). The paper's output bias :math:`b_2` is dropped: a softmax ignores a constant
    shift, so it would never receive a gradient. The paper attends once per step over the
    whole graph's hidden matrix; here each sensor weighs its own steps, so the weights do not
    depend on the number of nodes.

    Args:
        dim: hidden-state size ``d``.
        hidden: width of the scoring perceptron (default ``dim``).

    Shapes:
        h: [B, L, N, dim] -> [B, N, dim]; :meth:`weights`: [B, L, N, 1] (sum 1 over ``L``)
    """

    def __init__(self, dim: int, hidden: int | None = None) -> None:
        super().__init__()
        self.dim, self.hidden = dim, hidden or dim
        self.proj = nn.Linear(dim, self.hidden)
        self.score = nn.Linear(self.hidden, 1, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot weights, zero bias."""
        glorot_(self.proj, self.score)

    def weights(self, h: Tensor) -> Tensor:
        r"""The attention weights :math:`\alpha_t` of every step, per node."""
        return self.score(torch.tanh(self.proj(h))).softmax(dim=1)

    def forward(self, h: Tensor) -> Tensor:
        return (self.weights(h) * h).sum(dim=1)

    def extra_repr(self) -> str:
        return f"{self.dim}, hidden={self.hidden}"


@register_model("tgcn", "GRU with GCN gates, last state to all H steps (Zhao et al., T-ITS 2019)")
class TGCN(nn.Module):
    r"""Temporal Graph Convolutional Network (Zhao, Song, Zhang, Liu, Wang, Lin, Deng & Li,
    IEEE T-ITS 2019, sec. III).

    A GRU runs over the ``L`` input steps on every node; its gates and candidate are GCN
    graph convolutions of the input and the previous state (a
    :class:`~stgraph.nn.GraphGRUCell` with :class:`~stgraph.nn.GCNConv` gates):

    .. math::
        u_t, r_t = \sigma\big(\hat A [X_t, h_{t-1}] W_{u,r} + b_{u,r}\big), \quad
        c_t = \tanh\big(\hat A [X_t, r_t \odot h_{t-1}] W_c + b_c\big), \\
        h_t = u_t \odot h_{t-1} + (1 - u_t) \odot c_t, \qquad
        \hat Y = W_o\, h_L + b_o

    with :math:`\hat A = \tilde D^{-1/2}(A + I)\tilde D^{-1/2}`; the linear read-out gives
    all ``H`` steps at once (reshaped to ``[H, F_out]`` per node).

    Paper defaults: hidden 64 (Los-loop; 100 for SZ-taxi), one GRU layer, lookback 12.

    Where stgraph differs: the input at each step is the value concatenated with its calendar
    features (:func:`~stgraph.models.common.with_time_features`), the paper's input is the
    value alone. ``persistence=True`` adds the last observation to the forecasts (the
    published read-out, without it, is the default).

    Args:
        in_channels: input value features ``F``.
        out_channels: forecast features ``F_out``.
        horizon: ``H``.
        num_covariates: covariate channels ``C``.
        hidden: GRU state size per node (paper: 64).
        persistence: forecast the change from the last observation (paper: no).

    Shapes:
        x: [B, L, N, in_channels]; covariates: [B, L + H, 1 or N, C] or ``None``
        edge_index: [2, E], edge_weight: [E]
        output: [B, H, N, out_channels]
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        horizon: int,
        num_covariates: int = 2,
        hidden: int = 64,
        persistence: bool = False,
    ) -> None:
        super().__init__()
        self.num_covariates, self.hidden = num_covariates, hidden
        cell = GraphGRUCell(in_channels + covariate_width(num_covariates), hidden, GCNConv)
        self.encoder = RecurrentLayer(cell)
        self.pool = self.make_pool(hidden)
        self.head = HorizonHead(hidden, 1, horizon, out_channels, persistence=persistence)

    @staticmethod
    def make_pool(hidden: int) -> nn.Module:
        """The read-out of the hidden-state sequence: its last state."""
        return LastStep()

    def reset_parameters(self) -> None:
        """Re-initialise the recurrence, the read-out and the output layer."""
        self.encoder.reset_parameters()
        self.head.reset_parameters()
        if isinstance(self.pool, StepAttention):
            self.pool.reset_parameters()

    def encode(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        covariates: Tensor | None = None,
    ) -> Tensor:
        """Hidden states of all ``L`` steps. Shapes: x [B, L, N, F] -> [B, L, N, hidden]."""
        out: Tensor = self.encoder(
            with_time_features(x, covariates, self.num_covariates), edge_index, edge_weight
        )
        return out

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        covariates: Tensor | None = None,
    ) -> Tensor:
        z = self.pool(self.encode(x, edge_index, edge_weight, covariates))
        out: Tensor = self.head(z.unsqueeze(1), x)
        return out

    def extra_repr(self) -> str:
        return f"hidden={self.hidden}"


@register_model("a3tgcn", "T-GCN with attention over all its hidden states (Bai et al., 2021)")
class A3TGCN(TGCN):
    r"""Attention Temporal Graph Convolutional Network (Bai, Zhu, Song, Zhao, Hou, Du &
    Li, ISPRS Int. J. Geo-Inf. 2021, 10(7):485; arXiv 2006.11583, 2020).

    The :class:`TGCN` recurrence produces :math:`h_1, \dots, h_L`; a soft attention
    (:class:`StepAttention`) weighs all of them into a context vector, which a linear layer
    maps to all ``H`` steps:

    .. math::
        \alpha_t = \mathrm{softmax}_t\big(w_2^\top \tanh(W_1 h_t + b_1)\big), \qquad
        C = \sum_{t=1}^{L} \alpha_t h_t, \qquad \hat Y = W_o C + b_o

    Paper defaults: hidden 64 (the T-GCN setting), lookback 12.

    Where stgraph differs: see :class:`TGCN` (calendar inputs, optional persistence) and
    :class:`StepAttention` (``tanh`` in the scoring perceptron, per-node weights).

    Args:
        in_channels, out_channels, horizon, num_covariates, hidden, persistence: as
            :class:`TGCN`; the scoring perceptron is ``hidden`` wide.

    Shapes:
        x: [B, L, N, in_channels]; covariates: [B, L + H, 1 or N, C] or ``None``
        edge_index: [2, E], edge_weight: [E]
        output: [B, H, N, out_channels]
    """

    @staticmethod
    def make_pool(hidden: int) -> nn.Module:
        """The read-out of the hidden-state sequence: attention over all its steps."""
        return StepAttention(hidden)
