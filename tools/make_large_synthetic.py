"""Write a LargeST-sized synthetic traffic network to disk, one day at a time.

    python tools/make_large_synthetic.py --out data/synthetic-large            # 10,000 x 1 year
    python tools/make_large_synthetic.py --nodes 1000 --days 30 --out /tmp/s   # a small one

The result is a series directory (values.npy, mask.npy, graph.json, nodes.csv, meta.json);
open it with ``stgraph.data.open_series(path)``. Memory stays a few per-day buffers whatever
``--days``; 10,000 sensors x 365 days write 4.2 GB of values plus 1 GB of mask.
"""

from __future__ import annotations

import argparse
import sys
import time

from stgraph.data.io.synthetic_large import LargeSyntheticConfig, generate_large_synthetic


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, generate, print what was written."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=10_000, help="sensors (default 10000)")
    p.add_argument("--days", type=int, default=365, help="days of 5-minute steps (default 365)")
    p.add_argument("--out", required=True, help="series directory to create")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace an existing series dir")
    args = p.parse_args(argv)
    if args.nodes < 2 or args.days < 1:
        p.error("--nodes must be >= 2 and --days >= 1")
    t0 = time.perf_counter()
    cfg = LargeSyntheticConfig(nodes=args.nodes, days=args.days, seed=args.seed)
    try:
        out = generate_large_synthetic(args.out, cfg, overwrite=args.overwrite)
    except (FileExistsError, ValueError) as e:
        p.error(str(e))
    size = sum(f.stat().st_size for f in out.iterdir())
    print(
        f"{out}: {args.days * 1440 // cfg.freq_minutes} steps x {args.nodes} sensors, "
        f"{size / 2**30:.2f} GiB, {time.perf_counter() - t0:.0f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
