#!/usr/bin/env bash
# Benchmark: how soon the first decision comes into a storm, at 30 s and 5 min
# checkpoint_timeout (see scripts/bench_first_decision.py). Not a test.
#
#   scripts/bench_first_decision.sh [version] [repeats] [seconds]
set -euo pipefail
source "$(dirname "$0")/common.sh"
run_python_benchmark bench_first_decision.py "$@"
