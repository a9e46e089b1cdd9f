"""Dataset loaders (each registers itself in :mod:`stgraph.data.io.registry`)."""

from stgraph.data.io import synthetic_energy, synthetic_finance  # noqa: F401  (registration)
from stgraph.data.io.loaders import (  # noqa: F401  (registration)
    air_quality,
    dcrnn,
    noaa,
    pacific_sst,
    pems,
    pgt,
    synthetic_traffic,
    tgcn,
)
