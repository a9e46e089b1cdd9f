"""Air quality with gaps: PM2.5 at Beijing's monitoring stations over the next 12 hours.

The question. Health warnings need the fine-particle concentration (PM2.5, in ug/m3) at
every station for the next half day, from the last 24 hourly readings, although monitors
go offline for hours or days at a time.

The data. ``aqi36`` (the Beijing PM2.5 data of STMVL, Yi et al., IJCAI 2016, as used by
GRIN): 36 stations, hourly, May 2014 - April 2015, 13% of the readings missing. The gaps
stay gaps: missing inputs enter the model as the training mean with the mask excluding
them from the scaler statistics, the loss and every metric (nothing is imputed silently).
The graph is the thresholded Gaussian kernel of the distances between stations. It is real
data: point ``STGRAPH_DATA`` (or ``--data-dir``) at the folder that holds ``aqi36/``.

The model. Graph WaveNet (Wu et al., IJCAI 2019): pollution is carried by the wind, so who
influences whom changes with the weather and is not the distance graph alone; Graph
WaveNet convolves over the given graph and over an adjacency it learns from the data, with
dilated temporal convolutions over the day-long window. The baselines to beat are the last
observed value, the same hour yesterday and the historical average of each hour of the
week.

Run ``python tools/examples/air_quality.py`` (a few CPU minutes; ``--tiny`` for a smoke
run), then open the printed ``report.html``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from _common import run_example

DATASET, MODEL = "aqi36", "graph-wavenet"
HPARAMS = {"dim": 16, "blocks": 4, "layers": 3}
TINY = {"dim": 4}


def main(argv: Sequence[str] | None = None) -> int:
    """Check the data, train, print the metrics next to the baselines, plot, report."""
    return run_example(
        argv,
        __doc__,
        "air_quality",
        DATASET,
        MODEL,
        hparams=HPARAMS,
        tiny_hparams=TINY,
        batch_size=32,
        max_batches=40,
    )


if __name__ == "__main__":
    sys.exit(main())
