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
install_release_build "$version"

venv=$(bash scripts/venv.sh venv tests/e2e/requirements.txt)
exec "$venv/bin/python" scripts/demo.py "$version"
