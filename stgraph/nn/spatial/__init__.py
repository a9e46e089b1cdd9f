"""Spatial layers: graph convolutions (GCN, Chebyshev, diffusion, GAT, adaptive, lattice, grid)
called as ``layer(x, edge_index, edge_weight)``."""
