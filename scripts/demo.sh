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
cargo pgrx install --release --pg-config "$(pg_config_for "$version")" \
    --no-default-features --features "pg$version" >/dev/null

venv="$WALRUS_CACHE/venv"
if [ ! -x "$venv/bin/python" ] || ! cmp -s tests/e2e/requirements.txt "$venv/requirements.txt"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt
    cp tests/e2e/requirements.txt "$venv/requirements.txt"
fi
exec "$venv/bin/python" scripts/demo.py "$version"
