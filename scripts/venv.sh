#!/usr/bin/env bash
# A Python environment in the cache, built once and rebuilt when its
# requirements change; prints its path.
#   scripts/venv.sh venv tests/e2e/requirements.txt        (tests, demo, benchmarks)
#   scripts/venv.sh plot-venv scripts/requirements-plot.txt (plots)
set -euo pipefail
source "$(dirname "$0")/common.sh"
venv="$WALRUS_CACHE/$1"
requirements="$WALRUS_ROOT/$2"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$venv/requirements.txt"; then
    log "preparing the Python environment in $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/requirements.txt"
fi
echo "$venv"
