"""``write_report``: one self-contained HTML page for a finished run (summary, metrics
tables, config and every plot embedded as a base64 PNG; no external file or script)."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stgraph._atomic import atomic_write_text
from stgraph.data.spatiotemporal import SpatioTemporalData
from stgraph.engine.evaluation import MAPE_NOTE
from stgraph.engine.report import METRICS, horizon_columns, shown_metrics
from stgraph.engine.rundir import CONFIG, read_json
from stgraph.viz.errors import methods_of
from stgraph.viz.run import check_finished, plot_run

PROBABILISTIC = (("crps", "CRPS"), ("coverage", "coverage"), ("width", "width"))

CAPTIONS = {
    "forecast": "Forecast vs truth on the test split (gaps: missing observations).",
    "horizon_errors": "Test error by forecast horizon, model and baselines.",
    "error_map": "Test MAE of every sensor.",
    "training": "Training loss and validation MAE per epoch.",
    "attention_temporal": "Temporal attention (query step x key step), averaged.",
    "attention_spatial": "Spatial attention (query node x key node), averaged.",
}

STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.model td { font-weight: bold; }
img { max-width: 100%; }
figure { margin: 1em 0 2em; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.85em; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(v: Any, digits: int) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def results_table(
    results: Mapping[str, Mapping[str, Any]],
    horizon: int,
    freq: Any,
    metrics: Sequence[tuple[str, str]],
    *,
    first_is_model: bool = True,
) -> str:
    """An HTML table with one row per method and, for every metric, the columns of
    :func:`stgraph.engine.report.pick_horizons` plus ``all`` (the overall value).

    Args:
        results: ``{method: {"overall": {...}, "horizons": {"1": {...}}}}``.
        horizon: number of forecast steps.
        freq: the series' step, for the column labels.
        metrics: ``(key, title)`` pairs to show.
        first_is_model: draw the first row bold (the model).
    """
    keys, labels = horizon_columns(horizon, freq)
    top = "".join(f'<th colspan="{len(keys)}">{_e(title)}</th>' for _, title in metrics)
    sub = "".join(f"<th>{_e(label)}</th>" for _ in metrics for label in labels)
    rows = []
    for i, (name, res) in enumerate(results.items()):
        cells = []
        for metric, _ in metrics:
            digits = 2 if metric == "mape" else 3
            for k in keys:
                part = res.get("overall", {}) if k == "all" else res.get("horizons", {}).get(k, {})
                cells.append(f"<td>{_e(_number(part.get(metric), digits))}</td>")
        cls = ' class="model"' if first_is_model and i == 0 else ""
        rows.append(f"<tr{cls}><td>{_e(name)}</td>{''.join(cells)}</tr>")
    head = f'<tr><th rowspan="2">method</th>{top}</tr><tr>{sub}</tr>'
    return f"<table>{head}{''.join(rows)}</table>"


def _summary(metrics: Mapping[str, Any], run_dir: Path) -> str:
    fields = [
        ("dataset", metrics.get("dataset")),
        ("model", metrics.get("model")),
        ("evaluated on", f"{metrics.get('split', 'test')} split"),
        ("parameters", f"{metrics['params']:,}" if "params" in metrics else None),
        ("epochs", metrics.get("epochs")),
        ("best epoch", metrics.get("best_epoch")),
        ("best validation MAE", metrics.get("best_val_mae")),
        ("training seconds", metrics.get("train_seconds")),
        ("run directory", run_dir),
    ]
    rows = "".join(
        f"<tr><td>{_e(k)}</td><td>{_e(f'{v:.4g}' if isinstance(v, float) else v)}</td></tr>"
        for k, v in fields
        if v is not None
    )
    return f"<table>{rows}</table>"


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    caption = CAPTIONS.get(path.stem, path.stem.replace("_", " "))
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{_e(path.stem)}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def render_report(
    metrics: Mapping[str, Any],
    config: Mapping[str, Any],
    plots: Sequence[Path],
    freq: Any,
    run_dir: Path,
) -> str:
    """The report page as a string (see :func:`write_report`).

    Args:
        metrics: the run's ``metrics.json`` object.
        config: the run's ``config.json`` object.
        plots: PNG files to embed, in order.
        freq: the series' step (column labels).
        run_dir: the run directory (named in the summary).
    """
    horizon = int(config["protocol"]["horizon"])
    methods = methods_of(metrics)
    shown = shown_metrics(methods)
    parts = [
        f"<h1>{_e(metrics.get('dataset'))} / {_e(metrics.get('model'))}</h1>",
        "<h2>Run</h2>",
        _summary(metrics, run_dir),
        "<h2>Test metrics (masked, original units)</h2>",
        results_table(methods, horizon, freq, shown),
    ]
    if len(shown) < len(METRICS):
        parts.append(f"<p>{_e(MAPE_NOTE)}</p>")
    prob = metrics.get("probabilistic")
    if isinstance(prob, Mapping) and prob:
        parts += [
            "<h2>Probabilistic metrics</h2>",
            results_table(
                {str(metrics.get("model")) if k == "model" else k: v for k, v in prob.items()},
                horizon,
                freq,
                PROBABILISTIC,
                first_is_model=False,
            ),
        ]
    parts += ["<h2>Plots</h2>", *(_image(p) for p in plots)]
    parts += ["<h2>Configuration</h2>", f"<pre>{_e(json.dumps(config, indent=2))}</pre>"]
    title = f"stgraph report: {metrics.get('dataset')} / {metrics.get('model')}"
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )


def write_report(
    run_dir: str | Path,
    *,
    data: SpatioTemporalData | None = None,
    data_dir: str | Path | None = None,
) -> Path:
    """Write ``run_dir/report.html``: one self-contained page with the run summary
    (dataset, model, parameters, epochs, training seconds), the metrics table of the model
    and the baselines (MAE / RMSE / MAPE at the horizons of the text table, plus the
    probabilistic metrics when ``metrics.json`` has them), the config, and every plot of
    :func:`~stgraph.viz.run.plot_run` embedded as a base64 PNG. Every string is
    HTML-escaped; the page is written atomically.

    Args:
        run_dir: a finished run directory.
        data: the series of a run trained on in-memory data.
        data_dir: data root for a registered real dataset.

    Returns:
        The path of ``report.html``.
    """
    d = check_finished(run_dir)
    plots = plot_run(d, data=data, data_dir=data_dir)
    metrics = read_json(d / "metrics.json")
    config = read_json(d / CONFIG)
    freq = read_json(d / "forecaster.json").get("signature", {}).get("freq")
    page = render_report(metrics, config, plots, freq, d)
    target = d / "report.html"
    atomic_write_text(target, page)
    return target
