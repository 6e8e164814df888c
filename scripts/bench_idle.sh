#!/usr/bin/env bash
# Benchmark of the idle worker (see scripts/bench_idle.py). Not a test.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$WALRUS_ROOT"
version=${1:-15}
bash scripts/setup.sh "$version"
build_log=$(mktemp)
cargo pgrx install --release --pg-config "$(pg_config_for "$version")" --no-default-features \
    --features "pg$version all-strategies" >"$build_log" 2>&1 || { cat "$build_log"; die "the build failed"; }
rm -f "$build_log"
bash scripts/venv.sh venv tests/e2e/requirements.txt >/dev/null
exec "$WALRUS_CACHE/venv/bin/python" scripts/bench_idle.py "$@"
