"""Series, masks, windows, splits, scalers, protocol and dataset loaders."""

from stgraph.data.frames import from_long_dataframe, from_wide_dataframe, to_regular_grid
from stgraph.data.io import loaders  # noqa: F401  (registration)
from stgraph.data.io.download import download_dataset, download_file
from stgraph.data.io.registry import get_dataset, list_datasets, load_dataset, register_dataset
from stgraph.data.ondisk import SeriesMeta, open_series, register_series
from stgraph.data.ondisk_csv import convert_long_csv, convert_wide_csv
from stgraph.data.ondisk_write import SeriesWriter, write_series
from stgraph.data.protocol import OutlierWarning, Protocol
from stgraph.data.scalers import make_scaler
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.data.splits import SplitBounds, bounds_from_dates, bounds_from_fractions, window_starts
from stgraph.data.temporal_edges import TemporalEdges
from stgraph.data.windows import Batch, WindowDataset

__all__ = [
    "Batch",
    "OutlierWarning",
    "Protocol",
    "SeriesMeta",
    "SeriesWriter",
    "SpatioTemporalData",
    "SplitBounds",
    "TemporalEdges",
    "WindowDataset",
    "bounds_from_dates",
    "bounds_from_fractions",
    "convert_long_csv",
    "convert_wide_csv",
    "download_dataset",
    "download_file",
    "from_long_dataframe",
    "from_wide_dataframe",
    "get_dataset",
    "list_datasets",
    "load_dataset",
    "make_scaler",
    "open_series",
    "register_dataset",
    "register_series",
    "to_regular_grid",
    "window_starts",
    "write_series",
]
