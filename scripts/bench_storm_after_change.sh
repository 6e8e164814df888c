#!/usr/bin/env bash
# Benchmark: a storm right after a quiet interval, and right after a shrink,
# for every strategy (see scripts/bench_storm_after_change.py). Not a test.
#
#   scripts/bench_storm_after_change.sh [version] [repeats] [load-seconds] [out.json]
set -euo pipefail
source "$(dirname "$0")/common.sh"
run_python_benchmark bench_storm_after_change.py "$@"
