#!/usr/bin/env bash
# Set up .venv (if needed) and run the main job: train + evaluate the default model (DCRNN,
# 32 hidden units) on the embedded synthetic-traffic dataset with a CPU budget of 4 epochs x
# 30 batches, print the test metrics table against the baselines, write runs/demo/ (an earlier
# demo run there is replaced, unless --resume is passed), then draw its plots and write
# runs/demo/report.html (forecast vs truth, error by horizon, sensor map, training curves).
# Extra arguments go to `stgraph train` (e.g. `tools/demo.sh --epochs 10`).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
mode=--overwrite
out=runs/demo
prev=
for arg in "$@"; do
  if [ "$arg" = "--resume" ] || [ "$arg" = "--overwrite" ]; then mode=; fi
  if [ "$prev" = "--out" ]; then out=$arg; fi
  prev=$arg
done
.venv/bin/stgraph train --dataset synthetic-traffic --model dcrnn --set hidden=32 \
  --epochs 4 --max-batches 30 --out runs/demo ${mode} "$@"
exec .venv/bin/stgraph report "$out"
