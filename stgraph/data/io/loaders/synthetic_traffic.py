"""Registry entry of the embedded ``synthetic-traffic`` dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stgraph.data.io.registry import register_dataset
from stgraph.data.io.synthetic import SyntheticTrafficConfig, generate_synthetic_traffic
from stgraph.data.spatiotemporal import SpatioTemporalData


@register_dataset(
    "synthetic-traffic",
    "generated traffic speeds, 124 sensors on a street grid, 5-min, 21 days (embedded, offline)",
)
def load_synthetic_traffic(data_dir: str | Path | None = None, **config: Any) -> SpatioTemporalData:
    """Generate ``synthetic-traffic`` (``data_dir`` is ignored: nothing is read from disk).

    Args:
        data_dir: unused.
        **config: overrides of :class:`~stgraph.data.io.synthetic.SyntheticTrafficConfig`.

    Shapes:
        values: [T, N, 1] (default T = 6048, N = 124)
    """
    return generate_synthetic_traffic(SyntheticTrafficConfig(**config))
