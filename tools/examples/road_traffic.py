"""Road traffic: what will the speed be at each loop detector over the next hour?

The question. Traffic centres warn drivers and time ramp meters from short-term speed
forecasts: every 5 minutes, the speed at each of a city's highway detectors for the next
12 steps (one hour), from the last hour of readings.

The data. ``los-loop`` (released with T-GCN, Zhao et al., IEEE T-ITS 2020): speeds in mph
at 207 loop detectors on Los Angeles highways, every 5 minutes for 7 days; the graph is the
released adjacency of the detectors along the road network. It is real data: point
``STGRAPH_DATA`` (or ``--data-dir``) at the folder that holds ``los_loop/``.

The model. DCRNN (Li et al., ICLR 2018) was designed for exactly this: congestion moves
along roads, so a diffusion convolution over the road graph inside a GRU
encoder-decoder propagates slow-downs to the detectors up- and downstream. It is kept small
(one layer of 16 units, two diffusion steps) to train on a CPU in minutes. The baselines to
beat are the last observed speed, the seasonal naive forecast and the historical average
of each time of week; persistence is hard to beat at 5 minutes and the gap opens with the
horizon.

Run ``python tools/examples/road_traffic.py`` (a few CPU minutes; ``--tiny`` for a smoke
run), then open the printed ``report.html``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from _common import run_example

DATASET, MODEL = "los-loop", "dcrnn"
HPARAMS = {"hidden": 16, "layers": 1, "k": 2}
TINY = {"hidden": 8, "layers": 1}


def main(argv: Sequence[str] | None = None) -> int:
    """Check the data, train, print the metrics next to the baselines, plot, report."""
    return run_example(
        argv,
        __doc__,
        "road_traffic",
        DATASET,
        MODEL,
        hparams=HPARAMS,
        tiny_hparams=TINY,
        batch_size=32,
    )


if __name__ == "__main__":
    sys.exit(main())
