"""The calendar-aware baselines on every dataset's test split, under each card's protocol.

For each dataset: its frequency, the seasonal periods and slots the protocol resolves, and
the overall test MAE / RMSE of every baseline in ``stgraph.engine.BASELINES`` and, with
``--statistical arima var``, of the ARIMA / VAR baselines (all fitted on the training split
only, evaluated through the same windows and masked metrics as the models).
Writes ``tools/bench/results/baselines.md``.

    python tools/bench/baselines.py --data-dir ../shared/data
    python tools/bench/baselines.py --datasets synthetic-traffic chickenpox
    python tools/bench/baselines.py --datasets los-loop --statistical arima var
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stgraph.data import load_dataset
from stgraph.engine import BASELINES, RunConfig, get_baseline
from stgraph.engine.evaluation import evaluate_forecaster

DEFAULT = [
    "synthetic-traffic",
    "los-loop",
    "sz-taxi",
    "aqi36",
    "beijing-pm25",
    "noaa-weather",
    "pacific-sst",
    "chickenpox",
]


def row(name: str, data_dir: str | None, names: list[str]) -> list[str]:
    """One table row: dataset, step, protocol, resolved calendar, then MAE / RMSE per
    baseline."""
    data = load_dataset(name, data_dir)
    protocol = RunConfig.create(name, "stcn").proto.fit(data)
    windows = protocol.windows(data, "test")
    cells = [
        name,
        data.freq_str,
        f"L{protocol.lookback} → H{protocol.horizon}",
        f"{protocol.seasonal_periods} / {protocol.slots}",
    ]
    for baseline in names:
        try:
            fitted = get_baseline(baseline)().fit(data, protocol)
        except ValueError as e:  # e.g. VAR refuses more regressors than its size limit
            cells.append(f"n/a ({e})")
            continue
        m = evaluate_forecaster(fitted.predict, windows, 256)["overall"]
        cells.append(f"{m['mae']:.3f} / {m['rmse']:.3f}")
    return cells


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--datasets", nargs="*", default=DEFAULT)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument(
        "--statistical", nargs="*", default=[], help="also these: arima, var (slow per series)"
    )
    ap.add_argument("--out", default="tools/bench/results/baselines.md")
    args = ap.parse_args()
    names = [*BASELINES, *args.statistical]
    head = ["dataset", "step", "protocol", "seasonal periods / slots", *names]
    lines = [
        "# Baselines on every dataset (test split, overall masked MAE / RMSE)",
        "",
        f"`python tools/bench/baselines.py --datasets {' '.join(args.datasets)}"
        + (f" --statistical {' '.join(args.statistical)}`" if args.statistical else "`"),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for name in args.datasets:
        lines.append("| " + " | ".join(row(name, args.data_dir, names)) + " |")
        print(lines[-1], flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
