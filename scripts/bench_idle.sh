#!/usr/bin/env bash
# Benchmark of the idle worker (see scripts/bench_idle.py). Not a test.
#
#   scripts/bench_idle.sh [version] [rounds] [seconds-per-run]
set -euo pipefail
source "$(dirname "$0")/common.sh"
run_python_benchmark bench_idle.py "$@"
