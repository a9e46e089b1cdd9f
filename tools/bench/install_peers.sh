#!/usr/bin/env bash
# Build the peer libraries for tools/bench/peers.py into .bench-venv (never used by CI or tests).
#
# Peers: PyTorch Geometric Temporal and torch-spatiotemporal (tsl), with their compiled
# torch_scatter / torch_sparse built from source against the pinned CPU torch (no wheels are
# published for it). The compile is long: about 1 hour for torch-scatter and 1.5 hours for
# torch-sparse on a busy 2-core machine (MAX_JOBS=2); the wheels are cached in
# .bench-venv/wheels, so a rebuilt venv installs in seconds. The pure-Python peers are
# installed first, and each wheel as soon as it is built, so that while torch-sparse compiles
# `peers.py --stub-torch-sparse` can already time the peers' COO (edge_index) paths.
#
# Usage: tools/bench/install_peers.sh      (then: .bench-venv/bin/python tools/bench/peers.py)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
VENV=.bench-venv
WHEELS=$VENV/wheels
TORCH="torch==2.13.0"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip)
"${PIP[@]}" install --quiet --upgrade pip wheel setuptools
# stgraph itself (for its registered models) and the build requirements of the extensions.
"${PIP[@]}" install --quiet "$TORCH" -e . psutil
# The peers themselves; --no-deps where their pins would pull another torch.
"${PIP[@]}" install --quiet "$TORCH" torch-geometric-temporal==0.56.2 --no-deps
"${PIP[@]}" install --quiet "$TORCH" torch-spatiotemporal==0.9.5 --no-deps
"${PIP[@]}" install --quiet "$TORCH" einops tables pytorch-lightning torchmetrics \
  hydra-core omegaconf tqdm pandas scipy decorator
mkdir -p "$WHEELS"
for pkg in torch-scatter==2.1.2 torch-sparse==0.6.18; do
  name=${pkg%%==*}
  if ! ls "$WHEELS"/"${name//-/_}"-*.whl >/dev/null 2>&1; then
    echo "building $pkg from source (about an hour)..."
    MAX_JOBS=${MAX_JOBS:-2} "${PIP[@]}" wheel --no-build-isolation --no-deps -w "$WHEELS" "$pkg"
  fi
  "${PIP[@]}" install --quiet --no-deps "$WHEELS"/"${name//-/_}"-*.whl
done
"$VENV/bin/python" - <<'PY'
import torch_geometric_temporal, torch_scatter, torch_sparse, tsl  # noqa: F401
print("peers ready:", tsl.__version__, torch_sparse.__version__, torch_scatter.__version__)
PY
