"""Layers: pure ``torch.nn.Module``s on ``[B, T, N, F]`` tensors and PyG-style edge lists.

Spatial layers are called as ``layer(x, edge_index, edge_weight)``, temporal layers as
``layer(x)``; all accept any leading batch/time dims documented in their ``Shapes``.
"""

from stgraph.nn.adaptive import AdaptiveAdjacency, AdaptiveGraphConv
from stgraph.nn.attention import (
    AdditiveAttention,
    InteractiveAttention,
    MultiHeadAttention,
    TemporalAttention,
    scaled_dot_product,
)
from stgraph.nn.attention_cnn import AttentionCNN, ChannelAttention
from stgraph.nn.attention_rnn import AttentionGRU, AttentionLSTM
from stgraph.nn.block import FeedForward, ResidualSTBlock
from stgraph.nn.cheb import ChebConv
from stgraph.nn.convlstm import ConvLSTM
from stgraph.nn.diffusion import DiffusionConv
from stgraph.nn.encoding import CalendarEmbedding, calendar_fourier, sinusoidal_positions
from stgraph.nn.gat import GATConv
from stgraph.nn.gcn import GCNConv
from stgraph.nn.grid import GridConv
from stgraph.nn.lattice import LatticeConv
from stgraph.nn.propagate import GraphOperator, cached_operator, choose_layout, graph_operator
from stgraph.nn.recurrent import (
    GraphGRUCell,
    GraphLSTMCell,
    Pointwise,
    RecurrentLayer,
    SpatialFactory,
)
from stgraph.nn.rnn import TemporalGRU, TemporalLSTM
from stgraph.nn.spatial_attention import SpatialAttention
from stgraph.nn.tcn import GatedTemporalConv

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
