"""Time and memory of a grid model's convolution: ``LatticeConv`` gather path vs its scatter
path, with ``torch.nn.Conv2d`` on the dense grid as the reference.

One ConvLSTM gate convolution (``F_in = 1 + hidden`` inputs, ``4 * hidden`` outputs, 3x3,
the layer :class:`stgraph.models.ConvLSTM` runs at every step) on a masked lattice the size of
the Pacific SST grid (``--rows`` x ``--cols`` with ``--masked`` of the cells dropped, rook
neighbours), forward + backward at batch ``--batch``. Three paths compute the same numbers:

* ``gather``: :class:`stgraph.nn.LatticeConv` as shipped (each type's neighbour gathered into
  a column block, one matmul; the im2col form of a convolution);
* ``scatter``: its typed-edge message path (every node through all nine type weights,
  ``[B, N, 9, F_out]``, then one message per edge), the layer before the gather path;
* ``conv2d``: scatter the cells into the ``[B, F, H, W]`` grid, ``Conv2d``, gather them back.

Each path runs in a fresh process (so the peak resident memory is its own), median of
``--repeat`` timed steps after one warm-up; the ratios to ``scatter`` are what to read.

    python tools/bench/lattice.py                 # 2,263 cells, batch 64, hidden 64
    python tools/bench/lattice.py --write         # also results/lattice.md
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout's stgraph
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fresh import each_in_a_fresh_process, ratio_table, timed

from stgraph._atomic import atomic_write_text
from stgraph.graph import IsolatedNodesWarning
from stgraph.graph.lattice import lattice_graph
from stgraph.models.convlstm import lattice_edge_types
from stgraph.nn import LatticeConv

RESULTS = Path(__file__).resolve().parent / "results" / "lattice.md"
PATHS = ("scatter", "gather", "conv2d")


def grid(rows: int, cols: int, masked: float) -> tuple[np.ndarray, torch.Tensor]:
    """A lattice with a fixed random share ``masked`` of its cells dropped: (mask [H, W],
    edge_index [2, E])."""
    mask = np.random.default_rng(0).random((rows, cols)) < masked
    with warnings.catch_warnings():  # a few cells cut off by the mask: they keep their own
        warnings.simplefilter("ignore", IsolatedNodesWarning)
        g = lattice_graph((rows, cols), mask=mask)
    return mask, torch.as_tensor(g.edge_index)


def one(path: str, a: argparse.Namespace) -> dict[str, float]:
    """Median seconds and peak RSS growth (bytes) of forward + backward on one path."""
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    mask, ei = grid(a.rows, a.cols, a.masked)
    etype = lattice_edge_types(ei, int((~mask).sum()))
    f_in, f_out = 1 + a.hidden, 4 * a.hidden
    conv = nn.Conv2d(f_in, f_out, 3, padding=1)
    layer = LatticeConv.from_conv2d(conv)
    keep = torch.as_tensor(~mask).flatten().nonzero().squeeze(1)
    x = torch.randn(a.batch, len(keep), f_in, requires_grad=True)

    def step() -> None:
        if path == "gather":
            out = layer(x, ei, None, etype)
        elif path == "scatter":
            out = layer._scatter(x, ei, None, etype)
        else:
            dense = x.new_zeros(a.batch, a.rows * a.cols, f_in).index_copy(1, keep, x)
            img = dense.transpose(1, 2).reshape(a.batch, f_in, a.rows, a.cols)
            out = conv(img).flatten(2).transpose(1, 2).index_select(1, keep)
        out.square().mean().backward()

    return timed(step, a.repeat)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=55)
    ap.add_argument("--cols", type=int, default=55)
    ap.add_argument("--masked", type=float, default=0.25)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--path", choices=PATHS, help=argparse.SUPPRESS)  # one child process
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args()
    if a.path:
        print(json.dumps(one(a.path, a)))
        return
    flags = [f"--{k}={getattr(a, k)}" for k in ("rows", "cols", "masked", "batch", "hidden")]
    flags += [f"--repeat={a.repeat}", f"--threads={a.threads}"]
    res = each_in_a_fresh_process(__file__, PATHS, flags)
    cells = int((~grid(a.rows, a.cols, a.masked)[0]).sum())
    lines = [
        f"# LatticeConv: gather vs scatter path, Conv2d reference ({platform.machine()}, "
        f"torch {torch.__version__}, {a.threads} thread)",
        "",
        f"ConvLSTM gate: {1 + a.hidden} -> {4 * a.hidden} channels, 3x3, on a {a.rows}x{a.cols} "
        f"lattice with {a.masked:.0%} of the cells masked at random ({cells:,} nodes), batch "
        f"{a.batch}; forward + backward, median of {a.repeat}; peak = resident-memory growth "
        "of the first step. Command: `python tools/bench/lattice.py " + " ".join(flags) + "`",
        "",
        *ratio_table(res, "scatter"),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.write:
        atomic_write_text(RESULTS, text)


if __name__ == "__main__":
    main()
