"""Command line: ``stgraph train | evaluate | datasets | models``. Parses arguments and calls
the library; no logic of its own."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any


def _kv(items: Sequence[str]) -> dict[str, Any]:
    """``["hidden=32", "dropout=0.2"]`` -> ``{"hidden": 32, "dropout": 0.2}`` (JSON values)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"stgraph: expected KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stgraph", description="Graph-based spatio-temporal forecasting."
    )
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train and evaluate a model; writes a run directory")
    t.add_argument("--dataset", required=True, help="dataset name (see `stgraph datasets`)")
    t.add_argument("--model", required=True, help="model name (see `stgraph models`)")
    t.add_argument("--epochs", type=int, default=None, help="maximum epochs (default 30)")
    t.add_argument("--lookback", type=int, default=None, help="input steps (default: dataset card)")
    t.add_argument(
        "--horizon", type=int, default=None, help="forecast steps (default: dataset card)"
    )
    t.add_argument(
        "--out", default=None, help="run directory (default runs/<dataset>-<model>-<time>)"
    )
    t.add_argument(
        "--data-dir", default=None, help="data root (default $STGRAPH_DATA, then ~/.cache/stgraph)"
    )
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--lr", type=float, default=None)
    t.add_argument("--patience", type=int, default=None)
    t.add_argument("--max-batches", type=int, default=None, help="cap training batches per epoch")
    t.add_argument("--scaler", default=None, help="zscore, zscore-node, minmax, max or none")
    t.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE", help="model hyper-parameters"
    )
    t.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    t.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    e = sub.add_parser("evaluate", help="re-evaluate a run directory")
    e.add_argument("run_dir")
    e.add_argument("--data-dir", default=None)
    e.add_argument("--split", default="test", choices=("train", "val", "test"))

    d = sub.add_parser("datasets", help="list datasets (name, then description + availability)")
    d.add_argument("--data-dir", default=None, help="data root searched first")
    dsub = d.add_subparsers(dest="datasets_command")
    info = dsub.add_parser("info", help="print a dataset card")
    info.add_argument("name")
    dl = dsub.add_parser("download", help="download a dataset's files into the cache")
    dl.add_argument("name")
    dl.add_argument("--cache-dir", default=None, help="target folder (default ~/.cache/stgraph)")
    sub.add_parser("models", help="list models (name, then description)")
    return p


def _train(args: argparse.Namespace) -> int:
    from stgraph.engine import TrainConfig, train_run

    kw = {
        k: v
        for k, v in {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "patience": args.patience,
            "max_batches": args.max_batches,
        }.items()
        if v is not None
    }
    cfg = TrainConfig(seed=args.seed, progress=not args.no_progress, **kw)
    res = train_run(
        args.dataset,
        args.model,
        out=args.out,
        data_dir=args.data_dir,
        train=cfg,
        hparams=_kv(args.set),
        protocol_overrides={
            "lookback": args.lookback,
            "horizon": args.horizon,
            "scaler": args.scaler,
        },
        resume=args.resume,
    )
    m = res.metrics
    print(
        f"\n{args.dataset} / {args.model}: test metrics (masked; {m['params']:,} parameters, "
        f"{m['epochs']} epochs, best {m['best_epoch']}, {m['train_seconds']:.0f} s training)\n"
    )
    print(res.table)
    print(f"\nrun directory: {res.run_dir}")
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
            print(f"{d.name}\t{d.description} [{availability(d.card, args.data_dir)}]")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stgraph`` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "evaluate":
            from stgraph.engine import evaluate_run

            res = evaluate_run(args.run_dir, args.data_dir, args.split)
            print(f"{res.metrics['dataset']} / {res.metrics['model']}: {args.split} metrics\n")
            print(res.table)
            return 0
        if args.command == "datasets":
            return _datasets(args)
        if args.command == "models":
            from stgraph.models import list_models

            for m in list_models():
                print(f"{m.name}\t{m.description}")
            return 0
    except (FileNotFoundError, KeyError, ValueError, ConnectionError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"stgraph: error: {msg}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
