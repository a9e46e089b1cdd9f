"""Spatio-temporal transformer: temporal self-attention over every node's history and
graph-masked spatial self-attention over the nodes of every step (seed article ch. 4)."""

from __future__ import annotations

from torch import Tensor, nn

from stgraph.models.common import HorizonHead, covariate_width, with_time_features
from stgraph.models.registry import Capabilities, register_model
from stgraph.nn import ResidualSTBlock, SpatialAttention, TemporalAttention, sinusoidal_positions


class STTransformerBlock(ResidualSTBlock):
    r"""One spatio-temporal transformer layer: pre-norm residual sub-layers of spatial
    multi-head self-attention (each node attends over itself and its in-neighbours at the
    same step, :class:`~stgraph.nn.SpatialAttention`), temporal multi-head self-attention
    (each node attends over its own ``L`` steps, :class:`~stgraph.nn.TemporalAttention`)
    and a position-wise feed-forward network, each wrapped in layer norm, dropout and a
    residual connection (seed article sec. 4.4; Vaswani et al., NeurIPS 2017, sec. 3; the
    pre-norm placement of Xiong et al., ICML 2020):

    .. math::
        H &\leftarrow H + \mathrm{Drop}(\mathrm{MHA}_{nodes}(\mathrm{LN}(H); \mathcal{N}_i)) \\
        H &\leftarrow H + \mathrm{Drop}(\mathrm{MHA}_{time}(\mathrm{LN}(H))) \\
        H &\leftarrow H + \mathrm{Drop}(\mathrm{FFN}(\mathrm{LN}(H)))

    where :math:`\mathcal{N}_i` is node ``i`` and its in-neighbours, and
    :math:`\mathrm{MHA}(Q,K,V) = [\mathrm{head}_1; \dots; \mathrm{head}_h] W^O`,
    :math:`\mathrm{head}_i = \mathrm{softmax}(Q W_i^Q (K W_i^K)^\top / \sqrt{d_k})\, V W_i^V`
    (seed secs. 4.1 self-attention and 4.3 multi-head attention).

    Args:
        dim: model size ``d`` (divisible by ``heads``).
        heads: attention heads.
        dropout: dropout on attention weights and on every sub-layer output.

    Shapes:
        h: [B, L, N, dim]; edge_index: [2, E] -> [B, L, N, dim]
    """

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__(
            dim,
            SpatialAttention(dim, dim, heads, dropout, masked=True),
            TemporalAttention(dim, heads, dropout),
            dropout,
        )


@register_model(
    "st-transformer",
    "transformer: temporal self-attention per node + graph-masked spatial self-attention",
)
class STTransformer(nn.Module):
    r"""Spatio-temporal transformer encoder (seed article ch. 4: self-attention sec. 4.1,
    multi-head attention sec. 4.3, residual connections, layer norm and dropout sec. 4.4;
    sec. 3.4 on attention in spatio-temporal models). The values and calendar features of
    every node and step are embedded, a sinusoidal position of the step is added (Vaswani
    et al., NeurIPS 2017, sec. 3.5), ``layers`` :class:`STTransformerBlock` s alternate
    attention across the nodes of a step (restricted to graph neighbours, so the graph
    decides who attends to whom and ``layers`` blocks see ``layers`` hops) and across the
    steps of a node, and a dense layer maps the normalised encoding of all ``L`` steps to
    the ``H`` forecasts, added to the last observation:

    .. math::
        H^0_{t,i} = W_{in} [x_{t,i}; \tau_t] + b_{in} + P_t, \quad
        H^{l} = \mathrm{Block}(H^{l-1}, G), \quad
        \hat y_{\cdot, i} = x_{L,i} + W\, \mathrm{vec}(\mathrm{LN}(H^{\mathrm{last}}_{1..L,i})) + b

    No node embedding: the model is equivariant to renumbering the nodes together with the
    graph, and applies to graphs of any size.

    Defaults: ``dim=64, heads=8, layers=3`` as GMAN's spatio-temporal attention blocks
    (Zheng et al., AAAI 2020: :math:`L = 3, K = 8, d = 8`); dropout 0.1 (Vaswani et al.).

    Differences from GMAN / the transformer: spatial attention is masked to graph neighbours
    (GMAN attends over all nodes, with a graph-derived spatial embedding); no decoder or
    transform attention, all ``H`` steps come from one linear read-out of the encoded
    window; the last observation is added (the network forecasts the change).

    Args:
        in_channels: input value features ``F``.
        out_channels: forecast features ``F_out``.
        lookback: ``L``.
        horizon: ``H``.
        num_covariates: covariate channels ``C``.
        dim: model size ``d``.
        heads: attention heads.
        layers: transformer blocks.
        dropout: dropout rate.

    Shapes:
        x: [B, L, N, in_channels]; covariates: [B, L + H, 1 or N, C] or ``None``
        edge_index: [2, E]; edge_weight: ignored (attention weighs the neighbours)
        output: [B, H, N, out_channels]
    """

    capabilities = Capabilities(uses_edge_weights=False)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        lookback: int,
        horizon: int,
        num_covariates: int = 2,
        dim: int = 64,
        heads: int = 8,
        layers: int = 3,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.lookback, self.num_covariates = lookback, num_covariates
        self.inp = nn.Linear(in_channels + covariate_width(num_covariates), dim)
        self.register_buffer("pos", sinusoidal_positions(lookback, dim), persistent=False)
        self.blocks = nn.ModuleList(STTransformerBlock(dim, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.head = HorizonHead(dim, lookback, horizon, out_channels, mode="flatten")

    def reset_parameters(self) -> None:
        """Re-initialise the embedding, every block, the final norm and the read-out."""
        self.inp.reset_parameters()
        for block in self.blocks:
            block.reset_parameters()  # type: ignore[operator]
        self.norm.reset_parameters()
        self.head.reset_parameters()

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        covariates: Tensor | None = None,
    ) -> Tensor:
        if x.shape[1] != self.lookback:
            raise ValueError(f"model was built for lookback={self.lookback}, got {x.shape[1]}")
        pos = self.get_buffer("pos")
        h = self.inp(with_time_features(x, covariates, self.num_covariates)) + pos[:, None, :]
        for block in self.blocks:
            h = block(h, edge_index)
        out: Tensor = self.head(self.norm(h), x)
        return out
