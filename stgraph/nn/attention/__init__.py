"""Attention layers: dot-product / multi-head / additive / cross attention, temporal and spatial
self-attention, attention-RNNs and attention-CNN."""
