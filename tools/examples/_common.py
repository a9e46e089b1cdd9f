"""What every worked example shares: its command line, the training budget, the data check,
the training run with its metrics table, and the plots + HTML report at the end.

A one-model example is one call of :func:`run_example`; an example that trains more than one
run calls :func:`parse_args`, :func:`missing_data` (real data only), :func:`train` and
:func:`finish` itself. Everything else is the public stgraph API.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stgraph.data import SpatioTemporalData, load_dataset
from stgraph.data.io.cards import load_card, missing_files
from stgraph.engine.config import RunConfig, TrainConfig
from stgraph.engine.experiment import RunResult, train_run
from stgraph.viz import write_report

#: CPU seconds of training + validation per example by default (a few minutes).
DEFAULT_BUDGET = 180.0
#: the ``--tiny`` settings: one epoch of two small batches (a smoke test, not a result).
TINY_TRAIN = {"epochs": 1, "max_batches": 2, "batch_size": 8, "warmup_epochs": 0}
#: with ``--tiny``, windows start every ``T // TINY_WINDOWS`` steps (a few per split).
TINY_WINDOWS = 40


def parse_args(argv: Sequence[str] | None, doc: str | None, name: str) -> argparse.Namespace:
    """The examples' command line: ``--budget SECONDS``, ``--out DIR``, ``--data-dir DIR``,
    ``--tiny``.

    Args:
        argv: arguments (``None``: ``sys.argv[1:]``).
        doc: the example's docstring (its first line becomes the description).
        name: the example's name, for the default output folder ``runs/examples/<name>``.
    """
    p = argparse.ArgumentParser(
        description=(doc or "").strip().splitlines()[0] if doc else None,
        epilog="See the module docstring for the story behind the example.",
    )
    p.add_argument(
        "--budget",
        type=float,
        default=DEFAULT_BUDGET,
        metavar="SECONDS",
        help=f"CPU seconds of training (default {DEFAULT_BUDGET:g}); with several runs, "
        "split evenly between them",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("runs") / "examples" / name,
        metavar="DIR",
        help="folder of the run directories (default runs/examples/<example>)",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder holding the real data (default: $STGRAPH_DATA, then the download cache)",
    )
    p.add_argument(
        "--tiny",
        "--smoke",
        action="store_true",
        help="smoke test: one epoch of 2 small batches and a small model (seconds, not results)",
    )
    args = p.parse_args(argv)
    if args.budget <= 0:
        p.error(f"--budget must be a positive number of seconds, got {args.budget:g}")
    return args


def missing_data(dataset: str, data_dir: Path | None) -> str | None:
    """What to do when a real dataset's files are absent (``None`` when all are there).

    Returns:
        A message naming the missing files, the folders searched and how to get them.
    """
    card = load_card(dataset)
    missing = missing_files(card, data_dir)
    if not missing:
        return None
    return (
        f"{dataset}: data not found (missing {', '.join(missing)}).\n"
        "Point STGRAPH_DATA (or --data-dir) at the folder that holds these files, or run\n"
        f"  stgraph datasets download {dataset}\n"
        f"to fetch what can be downloaded (`stgraph datasets info {dataset}` says where each "
        "file comes from)."
    )


def train(
    args: argparse.Namespace,
    dataset: str,
    model: str,
    *,
    hparams: Mapping[str, Any],
    tiny_hparams: Mapping[str, Any],
    data: SpatioTemporalData | None = None,
    protocol: Mapping[str, Any] | None = None,
    share: float = 1.0,
    **train_settings: Any,
) -> tuple[RunResult, SpatioTemporalData]:
    """Train ``model`` on ``dataset`` within the example's budget, write the run directory
    ``args.out/<dataset>-<model>`` (replaced on a rerun) and print the metrics table of the
    model next to the baselines. With ``--tiny``, windows are also thinned to about
    ``TINY_WINDOWS`` over the whole series (stride ``T // TINY_WINDOWS``).

    Args:
        args: from :func:`parse_args`.
        dataset: dataset name (of a registered dataset, or of ``data``).
        model: registered model name.
        hparams: the model's hyper-parameters for a real run.
        tiny_hparams: overrides of ``hparams`` for ``--tiny``.
        data: an in-memory series (e.g. a feature subset of a registered dataset).
        protocol: protocol overrides (default: the dataset card's protocol).
        share: the fraction of ``args.budget`` this run may use.
        **train_settings: :class:`~stgraph.engine.config.TrainConfig` settings of a real
            run (``--tiny`` replaces epochs, batches and batch size).

    Returns:
        The run and the series it was trained on (for :func:`finish`).
    """
    if data is None:
        data = load_dataset(dataset, args.data_dir)
    settings = {"epochs": 200, "patience": 10, **train_settings}
    settings["time_budget"] = args.budget * share
    hp = dict(hparams)
    if args.tiny:
        settings.update(TINY_TRAIN)
        hp.update(tiny_hparams)
        protocol = {**(protocol or {}), "stride": max(1, data.num_steps // TINY_WINDOWS)}
    tc = TrainConfig(progress=False, **settings)
    config = RunConfig.create(dataset, model, hparams=hp, protocol=protocol, train=tc)
    out = args.out / f"{dataset}-{model}"
    print(f"training {model} on {dataset} ({'tiny smoke run' if args.tiny else 'full run'}) ...")
    result = train_run(config, out=out, data_dir=args.data_dir, data=data, overwrite=True)
    m = result.metrics
    print(
        f"\n{dataset} / {model}: {m['params']} parameters, {m['epochs']} epoch(s), "
        f"{m['train_seconds']} s; test split, original units:\n"
    )
    print(result.table)
    return result, data


def finish(
    result: RunResult, args: argparse.Namespace, data: SpatioTemporalData
) -> tuple[list[Path], Path]:
    """Draw the run's plots (forecast vs truth, error by horizon, error map, training curves)
    and write its HTML report; print where they are. :func:`stgraph.viz.write_report` draws
    the plots itself through :func:`stgraph.viz.plot_run` (into ``run_dir/plots``) and embeds
    them, so the plots are drawn once; call ``plot_run`` alone for the PNGs without a page.

    Args:
        result: the finished run.
        args: from :func:`parse_args` (for ``--data-dir``).
        data: the series the run was trained on (from :func:`train`; not loaded again).
    """
    report = write_report(result.run_dir, data=data, data_dir=args.data_dir)
    plots = sorted((result.run_dir / "plots").glob("*.png"))
    print("\nplots:\n" + "\n".join(f"  {p}" for p in plots))
    print(f"report: {report}  (open it in a browser)")
    return plots, report


def feature_subset(data: SpatioTemporalData, feature: str) -> SpatioTemporalData:
    """One feature of ``data`` as its own series, named ``<dataset>-<feature>`` (a run on it
    is reloaded with ``data=...``, never by the registered name, whose features differ)."""
    return dataclasses.replace(data.select_features([feature]), name=f"{data.name}-{feature}")


def run_example(
    argv: Sequence[str] | None,
    doc: str | None,
    name: str,
    dataset: str,
    model: str,
    *,
    hparams: Mapping[str, Any],
    tiny_hparams: Mapping[str, Any],
    **train_settings: Any,
) -> int:
    """The whole of a one-model example: parse the command line, check a real dataset's files
    (exit status 2 with what to do when they are missing), :func:`train`, :func:`finish`.

    Args:
        argv, doc, name: for :func:`parse_args`.
        dataset, model, hparams, tiny_hparams, **train_settings: for :func:`train`.

    Returns:
        The process exit status.
    """
    args = parse_args(argv, doc, name)
    if message := missing_data(dataset, args.data_dir):
        print(message, file=sys.stderr)
        return 2
    result, data = train(
        args, dataset, model, hparams=hparams, tiny_hparams=tiny_hparams, **train_settings
    )
    finish(result, args, data)
    return 0
