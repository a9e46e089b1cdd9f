#!/usr/bin/env bash
# Set up .venv (if needed) and run the main job: train + evaluate the default model on the
# embedded synthetic-traffic dataset, print the metrics table, write runs/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
exec .venv/bin/stgraph train --dataset synthetic-traffic --model gcn-transformer \
  --epochs "${EPOCHS:-6}" --max-batches "${MAX_BATCHES:-40}" --out "${OUT:-runs/demo}" "$@"
