#!/usr/bin/env bash
# The quickstart demo's wall time on an idle machine and next to one CPU-bound process
# (stgraph's default threads: the cores free now). Writes tools/bench/results/demo_load.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/bootstrap.sh
out=tools/bench/results/demo_load.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; [ -n "${HOG:-}" ] && kill "$HOG" 2>/dev/null || true' EXIT
run() {  # $1 = label
  local start end
  start=$(date +%s.%N)
  tools/demo.sh --no-progress --out "$tmp/$1" > "$tmp/$1.log" 2>&1
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
idle=$(run idle)
python3 -c "while True: pass" & HOG=$!
sleep 2
loaded=$(run loaded)
kill "$HOG"; HOG=
{
  echo "# Quickstart demo: idle machine vs one CPU-bound process beside it"
  echo
  echo "\`bash tools/bench/demo_load.sh\` ($(nproc) cores; default threads)"
  echo
  echo "| machine | wall s | training s | test MAE 15/30/60 min |"
  echo "|---|---|---|---|"
  for label in idle loaded; do
    secs=$(grep -o '[0-9]* s training' "$tmp/$label.log" | grep -o '^[0-9]*')
    mae=$(grep '^dcrnn ' "$tmp/$label.log" | awk '{print $2" / "$3" / "$4}')
    wall=$([ "$label" = idle ] && echo "$idle" || echo "$loaded")
    printf '| %s | %.0f | %s | %s |\n' "$label" "$wall" "$secs" "$mae"
  done
  echo
  printf 'loaded / idle wall time: %.2fx\n' "$(echo "$loaded / $idle" | bc -l)"
} > "$out"
cat "$out"
