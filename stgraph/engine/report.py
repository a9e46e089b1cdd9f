"""Plain-text metrics tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stgraph.data.calendar import horizon_label
from stgraph.engine.evaluation import MAPE_NOTE

METRICS = (("mae", "MAE"), ("rmse", "RMSE"), ("mape", "MAPE %"))
PROB_METRICS = (("crps", "CRPS"), ("coverage", "coverage"), ("width", "width"))


def pick_horizons(horizon: int) -> list[int]:
    """A few representative steps: 1/4, 1/2 and all of the horizon (e.g. 3, 6, 12)."""
    return sorted({max(1, horizon // 4), max(1, horizon // 2), horizon})


def horizon_columns(horizon: int, freq: Any = None) -> tuple[list[str], list[str]]:
    """The metrics tables' columns: the keys of :func:`pick_horizons` steps plus ``"all"``
    (the overall value), and their labels in real time units (see :func:`metrics_table`)."""
    steps = pick_horizons(horizon)
    keys = [str(s) for s in steps] + ["all"]
    return keys, [horizon_label(freq, s) for s in steps] + ["all"]


def shown_metrics(results: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """``METRICS`` less MAPE when no method has one (signed or standardised data)."""
    return [
        (metric, title)
        for metric, title in METRICS
        if metric != "mape" or any(r["overall"].get("mape") is not None for r in results.values())
    ]


def _align(row: list[str], widths: list[int]) -> str:
    cells = [
        c.ljust(w) if i == 0 else c.rjust(w)
        for i, (c, w) in enumerate(zip(row, widths, strict=True))
    ]
    return "  ".join(cells).rstrip()


def text_table(header: Sequence[list[str]], rows: Sequence[list[str]]) -> str:
    """Plain-text table: columns padded to their widest cell (the first left-aligned, the
    others right-aligned), the header rows, a rule, then the rows."""
    widths = [max(len(r[i]) for r in (*header, *rows)) for i in range(len(header[0]))]
    head = [_align(r, widths) for r in header]
    return "\n".join([*head, "-" * len(head[-1]), *(_align(r, widths) for r in rows)])


def metrics_table(results: dict[str, dict[str, Any]], horizon: int, freq: Any = None) -> str:
    """Table of MAE / RMSE / MAPE at representative horizon steps and overall, one row per
    method. The MAPE columns are left out, with a note, when no method has a MAPE (signed
    or standardised data, see :func:`stgraph.engine.evaluation.mape_is_meaningful`).

    Args:
        results: ``{method: {"overall": {...}, "horizons": {"1": {...}}}}``.
        horizon: number of forecast steps.
        freq: the series' step (a pandas offset or string such as ``"5min"`` / ``"MS"``),
            to label columns (``"15m"``, ``"1h"``, ``"1d"``, ``"3mo"``); ``None`` = ``@step``.
    """
    shown = shown_metrics(results)
    note = [] if len(shown) == len(METRICS) else ["", MAPE_NOTE]
    return "\n".join([_grid(results, horizon, freq, shown), *note])


def probabilistic_table(results: dict[str, dict[str, Any]], horizon: int, freq: Any = None) -> str:
    """Table of CRPS, central-interval coverage and width (see
    :mod:`stgraph.engine.probmetrics`) at representative horizon steps and overall, one row
    per method; the interval's nominal coverage is named under the table.

    Args:
        results: ``{method: {"overall": {...}, "horizons": {"1": {...}}}}``.
        horizon: number of forecast steps.
        freq: the series' step, to label columns (see :func:`metrics_table`).
    """
    nominal = next((r["overall"].get("nominal") for r in results.values()), None)
    note = "no central interval" if nominal is None else f"{nominal:.0%} central interval"
    return f"{_grid(results, horizon, freq, PROB_METRICS)}\n\ncoverage / width: {note}"


def _grid(
    results: dict[str, dict[str, Any]], horizon: int, freq: Any, shown: Sequence[tuple[str, str]]
) -> str:
    keys, labels = horizon_columns(horizon, freq)
    top, sub = ["method"], [""]
    rows = []
    for _, title in shown:
        top += [title] + [""] * (len(keys) - 1)
        sub += labels
    for name, res in results.items():
        row = [name]
        for metric, _ in shown:
            for k in keys:
                v = (res["overall"] if k == "all" else res["horizons"][k])[metric]
                row.append("n/a" if v is None else f"{v:.2f}" if metric == "mape" else f"{v:.3f}")
        rows.append(row)
    return text_table([top, sub], rows)
