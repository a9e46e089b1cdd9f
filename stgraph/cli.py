"""Command line: ``stgraph train | evaluate | forecast | plot | report | datasets | models``.
Parses arguments into a :class:`~stgraph.engine.config.RunConfig` and calls the library; no
logic of its own.

Every error the user can fix ends in one line ``stgraph: error: ...`` and exit status 2;
Ctrl-C ends with exit status 130 and says how to resume.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from stgraph._version import __version__

# flag -> (section of config.json, key)
_FLAGS = {
    "dataset": (None, "dataset"),
    "model": (None, "model"),
    "seed": (None, "seed"),
    "lookback": ("protocol", "lookback"),
    "horizon": ("protocol", "horizon"),
    "scaler": ("protocol", "scaler"),
    "seasonal_periods": ("protocol", "seasonal_periods"),
    "slots": ("protocol", "slots"),
    "epochs": ("train", "epochs"),
    "batch_size": ("train", "batch_size"),
    "lr": ("train", "lr"),
    "patience": ("train", "patience"),
    "monitor": ("train", "monitor"),
    "ema": ("train", "ema"),
    "max_batches": ("train", "max_batches"),
    "node_batch": ("train", "node_batch"),
    "node_partition": ("train", "node_partition"),
    "halo_hops": ("train", "halo_hops"),
    "eval_full_graph": ("train", "eval_full_graph"),
    "fit_on": ("train", "fit_on"),
}


def _kv(items: Sequence[str]) -> dict[str, Any]:
    """``["hidden=32", "dropout=0.2"]`` -> ``{"hidden": 32, "dropout": 0.2}`` (JSON values;
    ``True`` / ``False`` / ``None`` as in Python; else the text)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        python = {"True": True, "False": False, "None": None}
        try:
            out[key] = python[raw] if raw in python else json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _runtime(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:1, mps ...")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads (default: the cores free now, so a busy machine is not oversubscribed)",
    )
    p.add_argument("--data-dir", default=None, help="data root (default $STGRAPH_DATA, then cache)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stgraph", description="Graph-based spatio-temporal forecasting."
    )
    p.add_argument("--version", action="version", version=f"stgraph {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train and evaluate a model; writes a run directory")
    t.add_argument("--config", default=None, help="run.toml / config.json with the run's settings")
    t.add_argument("--dataset", help="dataset name (see `stgraph datasets`)")
    t.add_argument("--model", help="model name (see `stgraph models`)")
    t.add_argument("--epochs", type=int, help="maximum epochs (default 30)")
    t.add_argument("--lookback", type=int, help="input steps (default: dataset card)")
    t.add_argument("--horizon", type=int, help="forecast steps (default: dataset card)")
    t.add_argument(
        "--out", default=None, help="run directory (default runs/<dataset>-<model>-<time>)"
    )
    t.add_argument("--seed", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--patience", type=int)
    t.add_argument(
        "--monitor", choices=["mae", "rmse"], help="validation metric for early stopping"
    )
    t.add_argument(
        "--ema", type=float, help="validate and keep a moving average of the weights (decay)"
    )
    t.add_argument("--max-batches", type=int, help="cap training batches per epoch")
    t.add_argument(
        "--fit-on",
        choices=["train", "train+val"],
        help="train+val: refit on both splits for exactly --epochs epochs, keeping the last",
    )
    t.add_argument("--scaler", help="zscore, zscore-node, minmax, max or none")
    t.add_argument(
        "--node-batch",
        type=int,
        metavar="NODES",
        help="train on node subgraphs of this many nodes plus their halo (default: full graph)",
    )
    t.add_argument(
        "--node-partition",
        help="node batches: partition (balanced spectral parts, default) or random",
    )
    t.add_argument(
        "--halo-hops",
        type=int,
        metavar="K",
        help="halo of each node batch in hops (default: the model's receptive field, else 2)",
    )
    t.add_argument(
        "--eval-full-graph",
        action="store_const",
        const=True,
        help="with --node-batch, evaluate on the full graph instead of part by part",
    )
    t.add_argument(
        "--seasonal-periods",
        type=int,
        nargs="+",
        metavar="STEPS",
        help="seasonal periods in steps (default: from the data's frequency, e.g. 288 2016)",
    )
    t.add_argument(
        "--slots",
        help="historical-average slots: time_of_week, time_of_day, day_of_week, day_of_year, "
        "week_of_year, month_of_year or none (default: from the data's frequency)",
    )
    t.add_argument(
        "--head",
        choices=("point", "quantile", "gaussian"),
        help="forecast distribution: point (default), quantile (pinball loss) or gaussian (NLL)",
    )
    t.add_argument(
        "--quantiles",
        type=float,
        nargs="+",
        metavar="LEVEL",
        help="levels of a quantile head, sorted, in (0, 1) (default the deciles 0.1 ... 0.9)",
    )
    t.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE", help="model hyper-parameters"
    )
    mode = t.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue the run in --out")
    mode.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    t.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    t.add_argument(
        "--nproc",
        type=int,
        default=1,
        metavar="N",
        help="data-parallel processes on this machine (gloo on CPU, nccl on CUDA; the batch "
        "size stays the global batch); for a cluster start `stgraph train` under torchrun",
    )
    _runtime(t)

    e = sub.add_parser("evaluate", help="re-evaluate a run directory")
    e.add_argument("run_dir")
    e.add_argument("--split", default="test", choices=("train", "val", "test"))
    _runtime(e)

    f = sub.add_parser("forecast", help="forecast the steps after the last observation")
    f.add_argument("run_dir")
    f.add_argument(
        "--input", default=None, help="recent observations (CSV: time,node,feature,value)"
    )
    f.add_argument("--output", default=None, help="CSV to write (default: standard output)")
    _runtime(f)

    pl = sub.add_parser("plot", help="draw a run's plots (PNG files, default RUN_DIR/plots)")
    pl.add_argument("run_dir")
    pl.add_argument(
        "--sensors",
        nargs="+",
        metavar="ID",
        help="node ids for the forecast plot (default: lowest, median and highest test MAE)",
    )
    pl.add_argument("--data-dir", default=None, help="data root (default: the run's)")
    pl.add_argument("--out", default=None, help="folder for the PNGs (default RUN_DIR/plots)")
    rp = sub.add_parser("report", help="write RUN_DIR/report.html (metrics, config, plots)")
    rp.add_argument("run_dir")
    rp.add_argument("--data-dir", default=None, help="data root (default: the run's)")

    d = sub.add_parser("datasets", help="list datasets (name, then description + availability)")
    d.add_argument("--data-dir", default=None, help="data root searched first")
    dsub = d.add_subparsers(dest="datasets_command")
    info = dsub.add_parser("info", help="print a dataset card")
    info.add_argument("name")
    dl = dsub.add_parser("download", help="download a dataset's files into the cache")
    dl.add_argument("name")
    dl.add_argument("--cache-dir", default=None, help="target folder (default ~/.cache/stgraph)")
    sub.add_parser("models", help="list models: name, description, hyper-parameters (defaults)")
    from stgraph.engine.taskcli import add_task_parsers

    add_task_parsers(sub, _runtime)
    return p


def _run_config(args: argparse.Namespace) -> Any:
    """The run's config: saved (``--resume``) or ``--config`` file, then the given flags."""
    from pathlib import Path

    from stgraph.engine.config import RunConfig
    from stgraph.engine.settings import read_settings

    base: dict[str, Any] = {}
    if args.resume:
        if args.out is None:
            raise ValueError("--resume needs --out RUN_DIR")
        base = read_settings(Path(args.out) / "config.json")
    if args.config:
        base = _merge(base, read_settings(args.config))
    given: dict[str, Any] = {"hparams": _kv(args.set)}
    for flag, (section, key) in _FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            if section is None:
                given[key] = value
            else:
                given.setdefault(section, {})[key] = value
    if args.head is not None or args.quantiles is not None:
        given["head"] = {"kind": args.head or "quantile", "levels": args.quantiles or []}
    merged = _merge(base, given)
    for key in ("dataset", "model"):
        if not merged.get(key):
            raise ValueError(f"--{key} is required (or give it in --config)")
    return RunConfig.from_dict(merged, source=args.config or "command line")


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _train(args: argparse.Namespace) -> int:
    from stgraph.engine import train_run
    from stgraph.engine.experiment import RunResult
    from stgraph.engine.launch import torchrun_world, train_distributed

    config = _run_config(args)
    kw: dict[str, Any] = {
        "out": args.out,
        "data_dir": args.data_dir,
        "resume": args.resume,
        "overwrite": args.overwrite,
        "device": args.device,
        "progress": not args.no_progress,
    }
    res: RunResult | None
    if args.nproc == 1 and torchrun_world() == 1:
        res = train_run(config, **kw)
    else:
        res = train_distributed(config, args.nproc, threads=args.threads, **kw)
    if res is None:  # a rank other than 0 of a torchrun launch: rank 0 reports
        return 0
    m = res.metrics
    print(
        f"\n{config.dataset} / {config.model}: test metrics (masked; {m['params']:,} parameters, "
        f"{m['epochs']} epochs, best {m['best_epoch']}, {m['train_seconds']:.0f} s training)\n"
    )
    print(res.table)
    print(f"\nrun directory: {res.run_dir}")
    return 0


def _forecast(args: argparse.Namespace) -> int:
    from stgraph._atomic import atomic_write_text
    from stgraph.engine import Forecaster, forecast_run
    from stgraph.engine.recent import read_recent_csv

    if args.input is not None and args.data_dir is not None:
        raise ValueError("give --input or --data-dir, not both")
    if args.input is not None:
        fc = Forecaster.load(args.run_dir, args.device)
        frame = fc.forecast(read_recent_csv(args.input, fc))
    else:
        frame = forecast_run(args.run_dir, data_dir=args.data_dir, device=args.device)
    text = frame.to_csv(index=False)
    if args.output:
        atomic_write_text(args.output, text)
        print(f"{len(frame):,} rows written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _datasets(args: argparse.Namespace) -> int:
    from stgraph.data import get_dataset, list_datasets
    from stgraph.data.io.cards import availability, format_card

    if args.datasets_command == "info":
        print(format_card(get_dataset(args.name).card, args.data_dir))
    elif args.datasets_command == "download":
        from stgraph.data.io.download import download_dataset

        results = download_dataset(get_dataset(args.name).name, args.cache_dir)
        for r in results:
            print(f"{r.status:<10} {r.path}  {r.location or r.note}")
        return 0 if all(r.status != "manual" for r in results) else 3
    else:
        for d in list_datasets():
            try:
                status = availability(d.card, args.data_dir)
            except KeyError:  # registered without a card: a series directory opened by path
                status = "no card"
            print(f"{d.name}\t{d.description} [{status}]")
    return 0


def _models() -> int:
    from stgraph.models import hyperparameters, list_models

    for m in list_models():
        hp = ", ".join(f"{k}={v!r}" for k, v in hyperparameters(m.name).items())
        flags = "".join(f"; {f}" for f in m.capabilities.flags())
        print(f"{m.name}\t{m.description}{flags} [--set {hp}]")
    return 0


def _dispatch(args: argparse.Namespace) -> int:
    if args.command in ("train", "evaluate", "forecast", "heldout", "impute"):
        from stgraph._threads import configure_threads

        configure_threads(args.threads)
    if args.command == "train":
        return _train(args)
    if args.command == "evaluate":
        from stgraph.engine import evaluate_run

        res = evaluate_run(args.run_dir, args.data_dir, args.split, device=args.device)
        print(f"{res.metrics['dataset']} / {res.metrics['model']}: {args.split} metrics\n")
        print(res.table)
        return 0
    if args.command == "forecast":
        return _forecast(args)
    if args.command == "plot":
        from stgraph.viz import plot_run

        kw = {"data_dir": args.data_dir, "sensors": args.sensors, "out_dir": args.out}
        print("\n".join(str(p) for p in plot_run(args.run_dir, **kw)))
        return 0
    if args.command == "report":
        from stgraph.viz import write_report

        print(write_report(args.run_dir, data_dir=args.data_dir))
        return 0
    if args.command == "datasets":
        return _datasets(args)
    if args.command in ("heldout", "impute"):
        from stgraph.engine.taskcli import run_task

        return run_task(args, _kv(args.set))
    return _models()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stgraph`` console script."""
    from stgraph.engine.trainer import TrainingError

    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        hint = ""
        if args.command == "train":
            hint = "; continue with `stgraph train --resume --out RUN_DIR` (epochs done are kept)"
        print(f"\nstgraph: interrupted{hint}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `stgraph forecast RUN | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (OSError, KeyError, ValueError, ConnectionError, TrainingError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"stgraph: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
