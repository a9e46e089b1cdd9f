"""Shared operations: graph propagation operators, layout folding, initialisers, residual blocks."""
