"""The ``stgraph heldout`` and ``stgraph impute`` subcommands: their parser entries and the
calls into :mod:`stgraph.engine.heldout` / :mod:`stgraph.engine.imputation` (no logic of
their own; :mod:`stgraph.cli` adds the parsers and dispatches here)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from stgraph.engine.config import TrainConfig


def add_task_parsers(sub: Any, runtime: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add the ``heldout`` and ``impute`` subparsers to ``sub``; ``runtime`` adds the CLI's
    shared ``--device / --threads / --data-dir`` flags."""
    _heldout_parser(sub, runtime)
    _impute_parser(sub, runtime)


def run_task(args: argparse.Namespace, hparams: dict[str, Any]) -> int:
    """Run the parsed ``heldout`` or ``impute`` command (``hparams`` from ``--set``)."""
    return (_heldout if args.command == "heldout" else _impute)(args, hparams)


def _training(
    p: argparse.ArgumentParser, runtime: Callable[[argparse.ArgumentParser], None]
) -> None:
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--max-batches", type=int, default=None)
    p.add_argument("--time-budget", type=float, default=None, help="CPU seconds of training")
    p.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="model hyper-parameters (after the positional arguments)",
    )
    p.add_argument("--idw-k", type=int, default=None, help="IDW over the k nearest (default all)")
    runtime(p)


def _heldout_parser(sub: Any, runtime: Callable[[argparse.ArgumentParser], None]) -> None:
    h = sub.add_parser("heldout", help="forecast at held-out stations (kriging) vs IDW")
    h.add_argument("dataset")
    h.add_argument("model")
    which = h.add_mutually_exclusive_group()
    which.add_argument("--held-out", type=float, default=0.2, help="fraction of stations")
    which.add_argument("--nodes", nargs="+", default=None, metavar="ID", help="ids to hold out")
    h.add_argument("--split-method", default="random", choices=("random", "block"))
    h.add_argument("--split-seed", type=int, default=0)
    h.add_argument("--input-drop", type=float, default=0.5, help="training input node dropout")
    h.add_argument(
        "--input-fill",
        choices=("idw", "zero"),
        default="idw",
        help="hidden inputs: IDW of the visible stations (default) or 0 after scaling",
    )
    h.add_argument("--lookback", type=int, default=None)
    h.add_argument("--horizon", type=int, default=None)
    h.add_argument("--batch-size", type=int, default=None)
    h.add_argument("--seed", type=int, default=0)
    h.add_argument("--out", default=None, help="folder for heldout.json and table.txt")
    _training(h, runtime)


def _impute_parser(sub: Any, runtime: Callable[[argparse.ArgumentParser], None]) -> None:
    i = sub.add_parser("impute", help="mask-and-reconstruct imputation of observed values")
    i.add_argument("dataset")
    i.add_argument("--methods", nargs="+", default=None, metavar="NAME")
    i.add_argument("--mask", default="point", choices=("point", "block", "official"))
    i.add_argument("--fraction", type=float, default=0.25, help="share hidden by --mask point")
    i.add_argument("--mask-seed", type=int, default=0)
    i.add_argument("--split", default="test", choices=("train", "val", "test", "all"))
    i.add_argument("--window", type=int, default=24, help="learned imputer window (steps)")
    i.add_argument("--model", default="tgcn", help="learned imputer model")
    _training(i, runtime)


def _heldout(args: Any, hparams: dict[str, Any]) -> int:
    """``stgraph heldout``: :func:`~stgraph.engine.heldout.heldout_run`, then the table."""
    from stgraph.engine.heldout import heldout_run

    train = {
        "epochs": args.epochs,
        "max_batches": args.max_batches,
        "batch_size": args.batch_size,
        "time_budget": args.time_budget,
        "progress": False,
    }
    res = heldout_run(
        args.dataset,
        args.model,
        held_out=args.nodes if args.nodes else args.held_out,
        split_method=args.split_method,
        split_seed=args.split_seed,
        input_drop=args.input_drop,
        input_fill=args.input_fill,
        idw_k=args.idw_k,
        hparams=hparams,
        protocol_overrides={"lookback": args.lookback, "horizon": args.horizon},
        train=TrainConfig(**{k: v for k, v in train.items() if v is not None}, seed=args.seed),
        seed=args.seed,
        data_dir=args.data_dir,
        device=args.device,
        out=args.out,
    )
    m = res.metrics
    print(
        f"\n{m['dataset']} / {m['model']}: test metrics at {m['held_out']} held-out stations "
        f"(trained on {m['observed']}; masked; idw_truth is an oracle that reads the "
        "neighbours' true values at the target times)\n"
    )
    print(res.table)
    return 0


def _impute(args: Any, hparams: dict[str, Any]) -> int:
    """``stgraph impute``: the evaluation mask (``official`` = AQI-36's published one), then
    :func:`~stgraph.engine.imputation.evaluate_imputation` and the table."""
    from stgraph.data import load_dataset
    from stgraph.engine.imputation import (
        IMPUTATION_METHODS,
        block_mask,
        evaluate_imputation,
        point_mask,
    )

    data = load_dataset(args.dataset, args.data_dir)
    if args.mask == "official":
        if args.dataset != "aqi36":
            raise ValueError(f"--mask official exists for aqi36 only, not {args.dataset!r}")
        from stgraph.data.io.loaders.air_quality import aqi36_evaluation_mask

        hidden = aqi36_evaluation_mask(args.data_dir)
    elif args.mask == "block":
        hidden = block_mask(data.mask, seed=args.mask_seed)
    else:
        hidden = point_mask(data.mask, args.fraction, args.mask_seed)
    train = {
        "epochs": args.epochs,
        "max_batches": args.max_batches,
        "time_budget": args.time_budget,
    }
    res = evaluate_imputation(
        data,
        hidden,
        methods=args.methods or IMPUTATION_METHODS,
        split=args.split,
        window=args.window,
        model=args.model,
        hparams=hparams,
        train=TrainConfig(**{k: v for k, v in train.items() if v is not None}, progress=False),
        idw_k=args.idw_k,
    )
    print(f"\n{data.name}: imputation of {args.mask}-masked entries, {args.split} split\n")
    print(res.table)
    return 0
