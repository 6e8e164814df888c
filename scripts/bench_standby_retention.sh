#!/usr/bin/env bash
# How much WAL a standby keeps against its own max_wal_size (see
# scripts/bench_standby_retention.py). Not a test.
#
#   scripts/bench_standby_retention.sh [version] [burst MB] [repeats]
set -euo pipefail
source "$(dirname "$0")/common.sh"
run_python_benchmark bench_standby_retention.py "$@"
