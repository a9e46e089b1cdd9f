#!/usr/bin/env bash
# Set up .venv (if needed) and run the whole test suite.
# Extra arguments go to pytest (e.g. `tools/test.sh -k metrics`).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
exec .venv/bin/python -m pytest "$@"
