#!/usr/bin/env bash
# The Python environment for the end-to-end tests, demo and benchmarks:
# created once in the cache, rebuilt when tests/e2e/requirements.txt changes.
set -euo pipefail
source "$(dirname "$0")/common.sh"
venv="$WALRUS_CACHE/venv"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$WALRUS_ROOT/tests/e2e/requirements.txt" "$venv/requirements.txt"; then
    log "preparing the Python environment in $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$WALRUS_ROOT/tests/e2e/requirements.txt"
    cp "$WALRUS_ROOT/tests/e2e/requirements.txt" "$venv/requirements.txt"
fi
echo "$venv"
