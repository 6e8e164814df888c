#!/usr/bin/env bash
# Real-server benchmark of the WAL disk guard (scripts/bench_disk.py): pg_wal
# on a 600 MB tmpfs under pgbench TPC-B, with the guard on, with it off, and
# without pg_walrus; interleaved repeats; writes docs/benchmark-disk.json and
# prints the markdown table. Needs root (it mounts the tmpfs). About 15
# minutes per repeat with the defaults. Not a test.
#
#   scripts/bench_disk.sh [version] [repeats] [seconds-per-run]
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$WALRUS_ROOT"
version=${1:-15}
[ "$(id -u)" = 0 ] || die "bench_disk.sh mounts a tmpfs for pg_wal: run it as root"
install_release_build "$version"
venv=$(bash scripts/venv.sh venv tests/e2e/requirements.txt)
"$venv/bin/python" scripts/bench_disk.py "$version" "${2:-3}" "${3:-240}"
