#!/usr/bin/env bash
# Replays the standard WAL traces through every compiled strategy and the
# oracle (strategies/src/simulator), prints the comparison table, and writes
# docs/simulation.csv and docs/simulation.png. No PostgreSQL needed.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$WALRUS_ROOT"
out=${1:-docs}
cargo run --quiet --release -p walrus-strategies --bin walrus-sim -- --csv "$out/simulation.csv"
venv=$(bash scripts/venv.sh plot-venv scripts/requirements-plot.txt)
"$venv/bin/python" scripts/plot_simulation.py "$out/simulation.csv" "$out/simulation.png"
