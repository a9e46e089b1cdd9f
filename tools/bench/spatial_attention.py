"""Time and memory of masked spatial attention: the pair-by-pair path against the dense
``N x N`` masked scores it replaced on sparse graphs.

One :class:`stgraph.nn.SpatialAttention` as ``st-transformer`` uses it (``dim`` 64, 8 heads,
masked to in-neighbours and self), on ``--batch`` windows of ``--steps`` snapshots of a random
graph of ``--nodes`` nodes with ``--degree`` in-edges each, forward + backward:

* ``pairs``: the layer as shipped (:func:`stgraph.nn.attention.spatial.edge_attention`, one
  score per edge and self pair, memory ``O(E d)``);
* ``dense``: the same projections through the masked dense form
  (``MultiHeadAttention(x, attn_mask=A + I)``: ``heads x N x N`` scores per snapshot), the
  layer's only path before.

With ``--dataset NAME`` the step is instead one training step (masked MAE loss, forward +
backward) of the whole registered ``st-transformer`` (3 such layers) on ``--batch`` training
windows of that dataset, the dense path forced by ``SpatialAttention.pairwise = False``.

Each path runs in a fresh process (its own peak resident memory), median of ``--repeat``
timed steps after one warm-up; the ratios to ``dense`` are what to read.

    python tools/bench/spatial_attention.py                # N=207 (Los-loop's size), degree 8
    python tools/bench/spatial_attention.py --write        # also results/spatial_attention.md
    python tools/bench/spatial_attention.py --dataset sz-taxi --write   # ..._sz-taxi.md
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout's stgraph
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fresh import each_in_a_fresh_process, ratio_table, timed

from stgraph._atomic import atomic_write_text
from stgraph.data import load_dataset
from stgraph.engine import Forecaster, RunConfig
from stgraph.engine.metrics import masked_mae
from stgraph.nn import SpatialAttention

RESULTS = Path(__file__).resolve().parent / "results" / "spatial_attention.md"
PATHS = ("dense", "pairs")


def layer_step(a: argparse.Namespace) -> Callable[[], None]:
    """Forward + backward of one masked layer on a random graph."""
    n = a.nodes
    dst = torch.arange(n).repeat_interleave(a.degree)
    ei = torch.stack([torch.randint(0, n, (n * a.degree,)), dst])
    layer = SpatialAttention(a.dim, a.dim, a.heads, dropout=0.1)
    x = torch.randn(a.batch, a.steps, n, a.dim, requires_grad=True)
    return lambda: layer(x, ei).square().mean().backward()


def model_step(a: argparse.Namespace) -> Callable[[], None]:
    """Forward + backward of the masked MAE loss of ``st-transformer`` on one batch."""
    data = load_dataset(a.dataset)
    fc = Forecaster.build(RunConfig.create(a.dataset, "st-transformer"), data)
    batch = fc.protocol.windows(data, "train").batch(list(range(a.batch)))
    return lambda: fc.loss(batch, masked_mae).backward()


def measure(path: str, a: argparse.Namespace) -> dict[str, float]:
    """Median seconds and peak RSS growth (bytes) of forward + backward on one path."""
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    SpatialAttention.pairwise = path == "pairs"
    step = model_step(a) if a.dataset else layer_step(a)
    return timed(step, a.repeat)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=207)
    ap.add_argument("--degree", type=int, default=8)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--dataset", default=None, help="time st-transformer on this dataset")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--path", choices=PATHS, help=argparse.SUPPRESS)  # one child process
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args()
    if a.path:
        print(json.dumps(measure(a.path, a)))
        return
    keys = ("nodes", "degree", "steps", "dim", "heads") if not a.dataset else ("dataset",)
    flags = [f"--{k}={getattr(a, k)}" for k in (*keys, "batch", "repeat", "threads")]
    res = each_in_a_fresh_process(__file__, PATHS, flags)
    what = (
        f"`SpatialAttention({a.dim}, {a.dim}, heads={a.heads})` masked to a random graph of "
        f"{a.nodes} nodes x {a.degree} in-edges (+ self pairs), {a.batch} x {a.steps} "
        "snapshots"
        if not a.dataset
        else f"one training step of `st-transformer` on {a.batch} windows of {a.dataset}"
    )
    lines = [
        f"# Masked spatial attention: pairs vs dense ({platform.machine()}, torch "
        f"{torch.__version__}, {a.threads} thread)",
        "",
        f"{what}; forward + backward, median of {a.repeat}; peak = resident-memory growth of "
        "the first step. Command: `python tools/bench/spatial_attention.py "
        + " ".join(flags)
        + "`",
        "",
        *ratio_table(res, "dense"),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.write:
        out = RESULTS.with_name(f"spatial_attention_{a.dataset}.md") if a.dataset else RESULTS
        atomic_write_text(out, text)


if __name__ == "__main__":
    main()
