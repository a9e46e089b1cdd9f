"""GMAN: graph multi-attention network (encoder-decoder of spatio-temporal attention blocks)."""

from __future__ import annotations

import math
import weakref

import torch
from torch import Tensor, nn

from stgraph.graph.normalization import propagation_dense
from stgraph.models.registry import Capabilities, register_model
from stgraph.nn import CalendarEmbedding, scaled_dot_product


def laplacian_embedding(
    edge_index: Tensor, edge_weight: Tensor | None, num_nodes: int, dim: int
) -> Tensor:
    r"""Deterministic spectral node embedding: the eigenvectors of the normalised Laplacian
    of the symmetrised graph for its ``dim`` smallest eigenvalues after the first
    (Belkin & Niyogi, NeurIPS 2001), scaled by :math:`\sqrt N`.

    .. math::
        \bar A = \tfrac12 (A + A^\top) - \mathrm{diag}(A), \quad
        L = I - D^{-1/2} \bar A D^{-1/2}, \quad
        L u_k = \lambda_k u_k,\; \lambda_0 \le \lambda_1 \le \dots, \quad
        E = \sqrt N\, [u_1, \dots, u_{\mathrm{dim}}]

    Every eigenvector's sign is fixed so that its entry of largest magnitude is positive;
    columns beyond ``N - 1`` are zero. Computed in float64, without gradient.

    Args:
        edge_index: source/target indices.
        edge_weight: weights (``None`` = ones).
        num_nodes: ``N``.
        dim: embedding size.

    Shapes:
        edge_index: [2, E], edge_weight: [E] -> [N, dim] (float64, device of ``edge_index``)
    """
    with torch.no_grad():
        w = None if edge_weight is None else edge_weight.detach().double()
        if w is None:
            w = torch.ones(edge_index.shape[1], dtype=torch.float64, device=edge_index.device)
        a = propagation_dense(edge_index, w, num_nodes)
        a = (a + a.T) / 2
        a.fill_diagonal_(0.0)
        deg = a.sum(dim=1)
        d = torch.where(deg > 0, deg.clamp_min(1e-300).rsqrt(), torch.zeros_like(deg))
        lap = torch.eye(num_nodes, dtype=a.dtype, device=a.device) - d[:, None] * a * d[None, :]
        vecs = torch.linalg.eigh(lap).eigenvectors[:, 1 : dim + 1]
        peak = vecs.abs().argmax(dim=0)
        vecs = vecs * torch.sign(vecs[peak, torch.arange(vecs.shape[1], device=a.device)])
        out = a.new_zeros(num_nodes, dim)
        out[:, : vecs.shape[1]] = vecs * math.sqrt(num_nodes)
    return out


def _mlp(i: int, hidden: int, o: int) -> nn.Sequential:
    """GMAN's two fully connected layers: ``Linear -> ReLU -> Linear``."""
    return nn.Sequential(nn.Linear(i, hidden), nn.ReLU(), nn.Linear(hidden, o))


class GMANAttention(nn.Module):
    r"""GMAN's multi-head attention with non-linear projections (Zheng, Fan, Wang & Qi,
    AAAI 2020, eqs. 4-7, 9-10): ``heads`` heads of size :math:`d = \mathrm{dim} /
    \mathrm{heads}` along axis ``axis``, every projection a ReLU layer
    :math:`f(z) = \mathrm{ReLU}(z W + b)`; the heads are concatenated.

    .. math::
        \alpha^{(k)}_{ij} = \mathrm{softmax}_j\Big(\frac{\langle f^{(k)}_1(q_i),
        f^{(k)}_2(k_j) \rangle}{\sqrt d}\Big), \qquad
        o_i = \big\Vert_{k=1}^{K} \sum_j \alpha^{(k)}_{ij} f^{(k)}_3(v_j)

    Spatial attention attends the nodes (``axis=-2``) and temporal attention the steps
    (``axis=1``), both with queries, keys and values :math:`[H \Vert \mathrm{STE}]`;
    transform attention attends the history steps with future embeddings as queries,
    history embeddings as keys and encoder states as values.

    Args:
        query_dim, key_dim, value_dim: input sizes.
        dim: output size ``D = K d`` (divisible by ``heads``).
        heads: number of heads ``K``.
        axis: the attended axis.

    Shapes:
        query: [B, Tq, N, query_dim]; key: [B, Tk, N, key_dim]; value: [B, Tk, N, value_dim]
        (``Tq = Tk`` when attending nodes) -> [B, Tq, N, dim]
    """

    def __init__(
        self, query_dim: int, key_dim: int, value_dim: int, dim: int, heads: int, axis: int
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim={dim} must be divisible by heads={heads}")
        self.heads, self.axis = heads, axis
        self.q = nn.Linear(query_dim, dim)
        self.k = nn.Linear(key_dim, dim)
        self.v = nn.Linear(value_dim, dim)

    def reset_parameters(self) -> None:
        """Default ``nn.Linear`` initialisation."""
        for m in (self.q, self.k, self.v):
            m.reset_parameters()

    def forward(self, query: Tensor, key: Tensor, value: Tensor) -> Tensor:
        q, k, v = self.q(query).relu(), self.k(key).relu(), self.v(value).relu()
        return scaled_dot_product(q, k, v, dim=self.axis, heads=self.heads)


class STAttentionBlock(nn.Module):
    r"""GMAN's ST-Attention block (Zheng et al., AAAI 2020, fig. 2, eq. 8): spatial and
    temporal :class:`GMANAttention` on :math:`[H \Vert \mathrm{STE}]`, a gated fusion and a
    residual connection.

    .. math::
        z = \sigma(H_S W_{z,1} + H_T W_{z,2} + b_z), \qquad
        H^{l} = H^{l-1} + z \odot H_S + (1 - z) \odot H_T

    Args:
        dim: ``D``.
        heads: ``K``.

    Shapes:
        h, ste: [B, T, N, dim] -> [B, T, N, dim]
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.spatial = GMANAttention(2 * dim, 2 * dim, 2 * dim, dim, heads, axis=-2)
        self.temporal = GMANAttention(2 * dim, 2 * dim, 2 * dim, dim, heads, axis=1)
        self.gate_s = nn.Linear(dim, dim, bias=False)
        self.gate_t = nn.Linear(dim, dim)

    def reset_parameters(self) -> None:
        """Re-initialise both attentions and the gate."""
        for m in (self.spatial, self.temporal, self.gate_s, self.gate_t):
            m.reset_parameters()

    def forward(self, h: Tensor, ste: Tensor) -> Tensor:
        z = torch.cat([h, ste], dim=-1)
        hs, ht = self.spatial(z, z, z), self.temporal(z, z, z)
        gate = torch.sigmoid(self.gate_s(hs) + self.gate_t(ht))
        return h + gate * hs + (1 - gate) * ht


@register_model("gman", "GMAN: spatio-temporal attention encoder-decoder (AAAI 2020)")
class GMAN(nn.Module):
    r"""Graph Multi-Attention Network (Zheng, Fan, Wang & Qi, AAAI 2020).

    The spatio-temporal embedding of node ``i`` at step ``t`` adds a spatial embedding of
    the graph (two layers on a precomputed node embedding :math:`e^S_i`) and a temporal
    embedding of its time of day and day of week (two layers on their one-hot codes):

    .. math::
        \mathrm{STE}_{t,i} = \mathrm{FC}_S(e^S_i) + \mathrm{FC}_T([\mathrm{tod}_t \Vert
        \mathrm{dow}_t])

    The values are lifted to ``D`` by two layers, encoded by ``blocks``
    :class:`STAttentionBlock` s on the ``L`` history steps, carried to the ``H`` future
    steps by **transform attention** (every future step attends the history steps, with the
    future STE as queries and the history STE as keys, eq. 9-10), decoded by ``blocks``
    more on the future steps and read out by two layers:

    .. math::
        H^{(0)} = \mathrm{FC}_{in}(X), \quad H_{enc} = \mathrm{Enc}(H^{(0)},
        \mathrm{STE}_{1..L}), \quad H_{dec} = \mathrm{Dec}(\mathrm{TransAtt}(H_{enc}),
        \mathrm{STE}_{L+1..L+H}), \quad \hat Y = \mathrm{FC}_{out}(H_{dec})

    The node embedding is computed once per graph (cached on the edge tensors), so the
    model needs one static graph (declared in ``capabilities``).

    Paper defaults: 3 ST-Attention blocks in the encoder and in the decoder (the paper's
    :math:`L`; the authors' scripts default to 1 on PeMS and 5 on METR-LA), ``K = 8`` heads
    of ``d = 8`` (``D = 64``), node2vec embeddings of size ``D``.

    Differences from the paper: the node embedding is the spectral embedding of
    :func:`laplacian_embedding` (deterministic, computed from ``edge_index``/``edge_weight``)
    instead of node2vec random walks; the first temporal layer is
    :class:`~stgraph.nn.CalendarEmbedding` (one-hot codes times a matrix, without the bias);
    no batch norm (the authors' code adds one after every layer) and no extra output layers
    after the attentions and the fusion (the authors' code adds two ReLU layers after each);
    full, not group, spatial attention; covariates beyond the calendar are ignored; without
    covariates the temporal embedding is zero.

    Args:
        in_channels: input value features ``F``.
        out_channels: forecast features ``F_out``.
        horizon: ``H``.
        num_nodes: ``N``.
        num_covariates: covariate channels ``C`` (0 = no temporal embedding).
        steps_per_day: time-of-day slots.
        dim: model size ``D = K d`` (paper: 64). Default 64.
        heads: attention heads ``K`` (paper: 8). Default 8.
        blocks: ST-Attention blocks in the encoder and in the decoder (paper's :math:`L`: 3).
            Default 3.
        embedding_dim: size of the precomputed node embedding (paper: ``D`` = 64).
            Default 64.

    Shapes:
        x: [B, L, N, in_channels]; covariates: [B, L + H, 1 or N, C] or ``None``
        edge_index: [2, E], edge_weight: [E] (one static graph)
        output: [B, H, N, out_channels]
    """

    capabilities = Capabilities(
        time_varying_edges=False,
        whole_graph="its spatial embedding is the Laplacian eigenmap of the whole graph and "
        "it attends over all N nodes",
    )

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        horizon: int,
        num_nodes: int,
        num_covariates: int = 2,
        steps_per_day: int = 288,
        dim: int = 64,
        heads: int = 8,
        blocks: int = 3,
        embedding_dim: int = 64,
    ) -> None:
        super().__init__()
        self.horizon, self.num_nodes, self.embedding_dim = horizon, num_nodes, embedding_dim
        self.spatial_fc = _mlp(embedding_dim, dim, dim)
        self.calendar = CalendarEmbedding(steps_per_day, dim) if num_covariates >= 2 else None
        self.temporal_fc = (
            nn.Sequential(nn.ReLU(), nn.Linear(dim, dim)) if self.calendar is not None else None
        )
        self.input_fc = _mlp(in_channels, dim, dim)
        self.encoder = nn.ModuleList(STAttentionBlock(dim, heads) for _ in range(blocks))
        self.transform = GMANAttention(dim, dim, dim, dim, heads, axis=1)
        self.decoder = nn.ModuleList(STAttentionBlock(dim, heads) for _ in range(blocks))
        self.output_fc = _mlp(dim, dim, out_channels)
        self._cache: tuple[tuple[weakref.ref, ...], tuple[int, ...], Tensor] | None = None

    def reset_parameters(self) -> None:
        """Re-initialise every layer (the node embedding is not a parameter)."""
        fcs = (self.spatial_fc, self.input_fc, self.output_fc, self.temporal_fc)
        layers = [m for seq in fcs if seq is not None for m in seq if isinstance(m, nn.Linear)]
        for m in (*layers, self.calendar, *self.encoder, self.transform, *self.decoder):
            if m is not None:
                m.reset_parameters()

    def node_embedding(self, edge_index: Tensor, edge_weight: Tensor | None) -> Tensor:
        """:func:`laplacian_embedding` of the graph, cached on the very same unchanged edge
        tensors. Shapes: -> [N, embedding_dim] (float64)."""
        tensors = (edge_index,) if edge_weight is None else (edge_index, edge_weight)
        versions = tuple(t._version for t in tensors)
        hit = self._cache
        if hit is not None and hit[1] == versions and len(hit[0]) == len(tensors):
            if all(r() is t for r, t in zip(hit[0], tensors, strict=True)):
                return hit[2]
        emb = laplacian_embedding(edge_index, edge_weight, self.num_nodes, self.embedding_dim)
        self._cache = (tuple(weakref.ref(t) for t in tensors), versions, emb)
        return emb

    def embedding(
        self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None, covariates: Tensor | None
    ) -> Tensor:
        """The spatio-temporal embedding of the ``L + H`` steps.

        Shapes: x: [B, L, N, F] -> [B, L + H, N, dim]"""
        b, steps, n, _ = x.shape
        se = self.spatial_fc(self.node_embedding(edge_index, edge_weight).to(x))
        ste = se.expand(b, steps + self.horizon, n, -1)
        if self.calendar is not None and self.temporal_fc is not None and covariates is not None:
            te = self.temporal_fc(self.calendar(covariates[:, : steps + self.horizon]))
            ste = ste + te
        return ste

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        covariates: Tensor | None = None,
    ) -> Tensor:
        steps = x.shape[1]
        ste = self.embedding(x, edge_index, edge_weight, covariates)
        history, future = ste[:, :steps], ste[:, steps:]
        h = self.input_fc(x)
        for block in self.encoder:
            h = block(h, history)
        h = self.transform(future, history, h)
        for block in self.decoder:
            h = block(h, future)
        out: Tensor = self.output_fc(h)
        return out
