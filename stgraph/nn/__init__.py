"""Layers: pure ``torch.nn.Module``s on ``[B, T, N, F]`` tensors and PyG-style edge lists.

Spatial layers are called as ``layer(x, edge_index, edge_weight)``, temporal layers as
``layer(x)``; all accept any leading batch/time dims documented in their ``Shapes``.
"""

from stgraph.nn.attention.conv import AttentionCNN, ChannelAttention
from stgraph.nn.attention.mechanisms import (
    AdditiveAttention,
    InteractiveAttention,
    MultiHeadAttention,
    TemporalAttention,
    scaled_dot_product,
)
from stgraph.nn.attention.recurrent import AttentionGRU, AttentionLSTM
from stgraph.nn.attention.spatial import SpatialAttention
from stgraph.nn.ops.propagate import GraphOperator, cached_operator, choose_layout, graph_operator
from stgraph.nn.ops.residual import FeedForward, ResidualSTBlock
from stgraph.nn.spatial.adaptive import AdaptiveAdjacency, AdaptiveGraphConv
from stgraph.nn.spatial.cheb import ChebConv
from stgraph.nn.spatial.diffusion import DiffusionConv
from stgraph.nn.spatial.gat import GATConv
from stgraph.nn.spatial.gcn import GCNConv
from stgraph.nn.spatial.grid import GridConv
from stgraph.nn.spatial.lattice import LatticeConv
from stgraph.nn.temporal.convlstm import ConvLSTM
from stgraph.nn.temporal.encoding import CalendarEmbedding, calendar_fourier, sinusoidal_positions
from stgraph.nn.temporal.graph_recurrent import (
    GraphGRUCell,
    GraphLSTMCell,
    Pointwise,
    RecurrentLayer,
    SpatialFactory,
)
from stgraph.nn.temporal.sequence import TemporalGRU, TemporalLSTM
from stgraph.nn.temporal.tcn import GatedTemporalConv

__all__ = [
    "AdaptiveAdjacency",
    "AdaptiveGraphConv",
    "AdditiveAttention",
    "AttentionCNN",
    "AttentionGRU",
    "AttentionLSTM",
    "CalendarEmbedding",
    "ChannelAttention",
    "ChebConv",
    "ConvLSTM",
    "DiffusionConv",
    "FeedForward",
    "GATConv",
    "GCNConv",
    "GatedTemporalConv",
    "GraphGRUCell",
    "GraphLSTMCell",
    "GraphOperator",
    "GridConv",
    "InteractiveAttention",
    "LatticeConv",
    "MultiHeadAttention",
    "Pointwise",
    "RecurrentLayer",
    "ResidualSTBlock",
    "SpatialAttention",
    "SpatialFactory",
    "TemporalAttention",
    "TemporalGRU",
    "TemporalLSTM",
    "cached_operator",
    "calendar_fourier",
    "choose_layout",
    "graph_operator",
    "scaled_dot_product",
    "sinusoidal_positions",
]
