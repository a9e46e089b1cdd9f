"""Weather stations: tomorrow's maximum and minimum temperature and precipitation at
irregularly placed stations.

The question. From a week of daily readings at a few hundred weather stations scattered
over the central United States, forecast the next day's Tmax, Tmin and precipitation at
every station, although most stations report only on some days.

The data. ``noaa-weather`` (the NOAA daily data of Wikle, Zammit-Mangion and Cressie's
STRbook): 328 stations, daily, 1990-1993; 59% of the station-days are missing and stay
missing (masked out of the inputs' statistics, the loss and the metrics, never filled).
Stations are irregular points, so the graph is their k-nearest-neighbour graph (k = 8) of
great-circle distances. It is real data: point ``STGRAPH_DATA`` (or ``--data-dir``) at the
folder that holds ``noaa_daily_1990/``.

The model. STCN, a temporal convolution with graph convolutions between its layers: weather
systems are large and move over days, so a station's neighbours carry what its own gaps
hide, and a convolutional model of a week-long window is cheap enough for a CPU. The
baselines to beat are yesterday's value (last observed), the same day last week and the
historical (climatological) average.

Run ``python tools/examples/weather_stations.py`` (a few CPU minutes; ``--tiny`` for a smoke
run), then open the printed ``report.html``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from _common import run_example

DATASET, MODEL = "noaa-weather", "stcn"
HPARAMS = {"dim": 32, "layers": 3}
TINY = {"dim": 8, "layers": 1}


def main(argv: Sequence[str] | None = None) -> int:
    """Check the data, train, print the metrics next to the baselines, plot, report."""
    return run_example(
        argv, __doc__, "weather_stations", DATASET, MODEL, hparams=HPARAMS, tiny_hparams=TINY
    )


if __name__ == "__main__":
    sys.exit(main())
