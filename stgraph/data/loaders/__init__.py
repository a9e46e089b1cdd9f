"""Dataset loaders (each registers itself in :mod:`stgraph.data.registry`)."""

from stgraph.data.loaders import los_loop, synthetic_traffic  # noqa: F401  (registration)
