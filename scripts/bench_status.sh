#!/usr/bin/env bash
# Benchmark of walrus.status() (see scripts/bench_status.py). Not a test.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$WALRUS_ROOT"
version=${1:-15}
install_release_build "$version"
bash scripts/venv.sh venv tests/e2e/requirements.txt >/dev/null
exec "$WALRUS_CACHE/venv/bin/python" scripts/bench_status.py "$@"
