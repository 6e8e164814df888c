#!/usr/bin/env bash
# The Python environment for plots (matplotlib), kept apart from the tests'.
set -euo pipefail
source "$(dirname "$0")/common.sh"
venv="$WALRUS_CACHE/plot-venv"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$WALRUS_ROOT/scripts/requirements-plot.txt" "$venv/requirements.txt"; then
    log "preparing the plotting environment in $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$WALRUS_ROOT/scripts/requirements-plot.txt"
    cp "$WALRUS_ROOT/scripts/requirements-plot.txt" "$venv/requirements.txt"
fi
echo "$venv"
