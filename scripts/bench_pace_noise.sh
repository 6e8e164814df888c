#!/usr/bin/env bash
# Benchmark: pgbench bursts of a few seconds and manual checkpoints, with
# walrus.pace_growth on and off (see scripts/bench_pace_noise.py). Not a test.
#
#   scripts/bench_pace_noise.sh [version] [repeats] [seconds] [json-out]
set -euo pipefail
source "$(dirname "$0")/common.sh"
run_python_benchmark bench_pace_noise.py "$@"
