#!/usr/bin/env bash
# Real-server benchmark (scripts/bench_pgbench.py): pgbench TPC-B without
# pg_walrus, with each strategy, and at an oracle size; interleaved repeats;
# writes docs/benchmark.json, prints the markdown table, draws
# docs/benchmark.png. About two hours with the defaults. Not a test.
#
#   scripts/bench_pgbench.sh [version] [repeats] [seconds-per-run] [out-dir] [fsync]
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$WALRUS_ROOT"
version=${1:-15}
out=${4:-docs}
install_release_build "$version"
venv=$(bash scripts/venv.sh venv tests/e2e/requirements.txt)
mkdir -p "$out"
"$venv/bin/python" scripts/bench_pgbench.py "$version" "${2:-3}" "${3:-360}" "$out" "${5:-on}" | tee "$out/benchmark-table.md"
plot_venv=$(bash scripts/venv.sh plot-venv scripts/requirements-plot.txt)
"$plot_venv/bin/python" scripts/plot_benchmark.py "$out/benchmark.json" "$out/benchmark.png"
