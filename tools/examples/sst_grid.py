"""A grid field: next month's sea-surface temperature anomaly over the tropical Pacific.

The question. El Nino and La Nina are warm and cold anomalies of the tropical Pacific's
surface that shape weather worldwide; from the last 12 monthly anomaly maps, forecast next
month's map.

The data. ``pacific-sst`` (NOAA ERSST anomalies as distributed with Wikle, Zammit-Mangion
and Cressie's STRbook): a 2-degree grid of the tropical Pacific, monthly, 1970-2003;
2,261 sea cells are the nodes (land cells are not SST and are left out) and the graph is
the lattice of rook (4-) neighbours. It is real data: point ``STGRAPH_DATA`` (or
``--data-dir``) at the folder that holds ``pacific_sst/``.

The model. ConvLSTM (Shi et al., NeurIPS 2015): every sea cell is a pixel, and an LSTM
whose gates are 3x3 convolutions over the grid tracks anomalies that grow, decay and drift
along the equator; land acts as zero padding. It predicts the change from the last map;
one layer of 8 hidden maps keeps it within a few CPU minutes.
The baselines to beat are persistence (last month's anomaly), the same month last year and
the monthly climatology; anomalies persist for months, so persistence is strong.

Run ``python tools/examples/sst_grid.py`` (a few CPU minutes; ``--tiny`` for a smoke run),
then open the printed ``report.html``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from _common import run_example

DATASET, MODEL = "pacific-sst", "convlstm"
HPARAMS = {"hidden": 8, "layers": 1}
TINY = {"hidden": 4, "layers": 1}


def main(argv: Sequence[str] | None = None) -> int:
    """Check the data, train, print the metrics next to the baselines, plot, report."""
    return run_example(
        argv, __doc__, "sst_grid", DATASET, MODEL, hparams=HPARAMS, tiny_hparams=TINY, batch_size=16
    )


if __name__ == "__main__":
    sys.exit(main())
