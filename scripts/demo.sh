#!/usr/bin/env bash
# The main job: a throwaway PostgreSQL with pg_walrus preloaded, a real
# pgbench write load, and walrus resizing max_wal_size while you watch.
# Installs what it needs first; removes the cluster at the end (also on Ctrl-C).
#
#   scripts/demo.sh                 # PostgreSQL 15, about 3 minutes of load
#   WALRUS_DEMO_SECONDS=300 scripts/demo.sh 17
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$WALRUS_ROOT"

version=${1:-15}
bash scripts/setup.sh "$version"
log "building and installing pg_walrus into PostgreSQL $version"
build_log=$(mktemp)
if ! cargo pgrx install --release --pg-config "$(pg_config_for "$version")" \
    --no-default-features --features "pg$version all-strategies" >"$build_log" 2>&1; then
    cat "$build_log"
    die "the build failed"
fi
rm -f "$build_log"

venv=$(bash scripts/venv.sh venv tests/e2e/requirements.txt)
exec "$venv/bin/python" scripts/demo.py "$version"
