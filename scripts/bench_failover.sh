#!/usr/bin/env bash
# Benchmark: a failover under full-speed pgbench, with walrus.pace_growth on
# and off (see scripts/bench_failover.py). Not a test.
#
#   scripts/bench_failover.sh [version] [repeats] [primary-seconds] [promoted-seconds] [json-out]
set -euo pipefail
source "$(dirname "$0")/common.sh"
run_python_benchmark bench_failover.py "$@"
