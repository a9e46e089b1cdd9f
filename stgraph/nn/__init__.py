"""Layers: pure ``torch.nn.Module``s on ``[B, T, N, F]`` tensors and PyG-style edge lists."""

from stgraph.nn.attention import MultiHeadAttention, TemporalAttention
from stgraph.nn.diffusion import DiffusionConv
from stgraph.nn.encoding import CalendarEmbedding, calendar_fourier, sinusoidal_positions
from stgraph.nn.gcn import GCNConv
from stgraph.nn.propagate import GraphOperator, cached_operator
from stgraph.nn.recurrent import GraphGRUCell

__all__ = [
    "CalendarEmbedding",
    "DiffusionConv",
    "GCNConv",
    "GraphGRUCell",
    "GraphOperator",
    "MultiHeadAttention",
    "TemporalAttention",
    "cached_operator",
    "calendar_fourier",
    "sinusoidal_positions",
]
