#!/usr/bin/env bash
# A Python environment in the cache, built once and rebuilt when its
# requirements (or the interpreter) change; prints its path.
#   scripts/venv.sh venv tests/e2e/requirements.txt        (tests, demo, benchmarks)
#   scripts/venv.sh plot-venv scripts/requirements-plot.txt (plots)
set -euo pipefail
source "$(dirname "$0")/common.sh"
venv="$WALRUS_CACHE/$1"
requirements="$WALRUS_ROOT/$2"
# Debian's python3 (scripts/setup.sh installs it): the cluster user runs
# Patroni from this environment, and an interpreter under /root (pyenv, say)
# is out of that user's reach.
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)
stamp=$(cat "$requirements"; echo "# interpreter: $python")
if [ ! -x "$venv/bin/python" ] || [ "$stamp" != "$(cat "$venv/requirements.txt" 2>/dev/null)" ]; then
    log "preparing the Python environment in $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    printf '%s\n' "$stamp" >"$venv/requirements.txt"
fi
echo "$venv"
