#!/usr/bin/env bash
# Benchmark of walrus.status() (see scripts/bench_status.py). Not a test.
#
#   scripts/bench_status.sh [version] [rounds] [seconds-per-run]
set -euo pipefail
source "$(dirname "$0")/common.sh"
run_python_benchmark bench_status.py "$@"
