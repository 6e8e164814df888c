#!/usr/bin/env bash
# Benchmark of walrus.status() (see scripts/bench_status.py). Not a test.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$WALRUS_ROOT"
version=${1:-15}
bash scripts/setup.sh "$version"
cargo pgrx install --release --pg-config "$(pg_config_for "$version")" --no-default-features --features "pg$version all-strategies" >/dev/null
bash scripts/python-env.sh >/dev/null
exec "$WALRUS_CACHE/venv/bin/python" scripts/bench_status.py "$@"
