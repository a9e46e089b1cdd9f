"""Plain-text metrics tables."""

from __future__ import annotations

from typing import Any

import pandas as pd

METRICS = (("mae", "MAE"), ("rmse", "RMSE"), ("mape", "MAPE %"))


def pick_horizons(horizon: int) -> list[int]:
    """A few representative steps: 1/4, 1/2 and all of the horizon (e.g. 3, 6, 12)."""
    return sorted({max(1, horizon // 4), max(1, horizon // 2), horizon})


def _label(step: int, step_minutes: float | None) -> str:
    """Column label of a horizon step: minutes, hours or days when the step is regular
    enough to say so, else ``@step``."""
    if not step_minutes:
        return f"@{step}"
    minutes = step * step_minutes
    for unit, size in (("d", 1440.0), ("h", 60.0)):
        if minutes >= 2 * size and minutes % size == 0:
            return f"{minutes / size:g}{unit}"
    return f"{minutes:g}m" if minutes < 2880 else f"@{step}"


def _align(row: list[str], widths: list[int]) -> str:
    cells = [
        c.ljust(w) if i == 0 else c.rjust(w)
        for i, (c, w) in enumerate(zip(row, widths, strict=True))
    ]
    return "  ".join(cells).rstrip()


def _step_minutes(freq: Any) -> float | None:
    """Minutes per step of a fixed frequency; ``None`` for calendar steps (months...)."""
    if freq is None or isinstance(freq, int | float):
        return freq
    try:
        return pd.Timedelta(freq).total_seconds() / 60
    except (ValueError, TypeError):
        return None


def metrics_table(results: dict[str, dict[str, Any]], horizon: int, freq: Any = None) -> str:
    """Table of MAE / RMSE / MAPE at representative horizon steps and overall, one row per
    method.

    Args:
        results: ``{method: {"overall": {...}, "horizons": {"1": {...}}}}``.
        horizon: number of forecast steps.
        freq: the series' step (a pandas offset / Timedelta, or minutes), to label columns.
    """
    step_minutes = _step_minutes(freq)
    steps = pick_horizons(horizon)
    keys = [str(s) for s in steps] + ["all"]
    labels = [_label(s, step_minutes) for s in steps] + ["all"]
    top, sub = ["method"], [""]
    rows = []
    for _, title in METRICS:
        top += [title] + [""] * (len(keys) - 1)
        sub += labels
    for name, res in results.items():
        row = [name]
        for metric, _ in METRICS:
            for k in keys:
                v = (res["overall"] if k == "all" else res["horizons"][k])[metric]
                row.append("n/a" if v is None else f"{v:.2f}" if metric == "mape" else f"{v:.3f}")
        rows.append(row)
    widths = [max(len(r[i]) for r in (top, sub, *rows)) for i in range(len(top))]
    lines = [_align(top, widths), _align(sub, widths), "-" * len(_align(sub, widths))]
    return "\n".join(lines + [_align(r, widths) for r in rows])
