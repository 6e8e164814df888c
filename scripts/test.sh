#!/usr/bin/env bash
# Runs every pg_walrus test, installing what it needs first (scripts/setup.sh):
#   0. the project's checks (scripts/lint.sh: rustfmt, clippy, ruff,
#      ShellCheck, release checks, PGXN meta), then set-up's own tests;
#   1. the strategies crate's unit tests (plain cargo test, no PostgreSQL);
#   2. `cargo pgrx test` on each PostgreSQL version, library preloaded;
#   3. end-to-end tier 1: the tests not marked `realtime`, on the test build
#      (cargo feature test-clock: tests move the worker's clock rather than
#      wait for it), all at once, each on its own cluster and port;
#   4. the Debian packages (scripts/package.sh) and their tests: contents,
#      lintian, apt-get install on a real server, purge, and the upgrade
#      from the previous release's package;
#   5. end-to-end tier 2: the `realtime` tests (early reaction's seconds,
#      standbys, disks filling, Patroni, Prometheus, worker restarts) on the
#      release build the packages hold, fewer clusters at once.
#
#   scripts/test.sh                  # PostgreSQL 15 and 17 (what CI runs)
#   scripts/test.sh --all-versions   # 15, 17 and 18
#   scripts/test.sh 17               # one version
#   scripts/test.sh --fast           # steps 0-3 only, for quick iteration
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$WALRUS_ROOT"

versions=()
fast=0
for arg in "$@"; do
    case $arg in
        --fast) fast=1 ;;
        --all-versions) versions=(15 17 18) ;;
        [0-9]*) versions+=("$arg") ;;
        *) die "unknown argument: $arg" ;;
    esac
done
[ ${#versions[@]} -gt 0 ] || read -r -a versions <<<"$WALRUS_DEFAULT_PG_VERSIONS"

started=$(date +%s)
bash scripts/setup.sh "${versions[@]}"
venv=$(bash scripts/venv.sh venv tests/e2e/requirements.txt)

bash scripts/lint.sh "$venv" "${versions[@]}"

log "set-up: the PostgreSQL source fallback, against a local mirror"
"$venv/bin/pytest" tests/setup -q -p no:cacheprovider

log "strategies: unit, property and simulator tests (every feature combination that ships)"
cargo test -p walrus-strategies --quiet
cargo test -p walrus-strategies --quiet --all-features
cargo test -p walrus-strategies --quiet --no-default-features

for v in "${versions[@]}"; do
    log "cargo pgrx test pg$v"
    pgdata=$(mktemp -d "/tmp/walrus-pgrx-pg$v-XXXXXX")
    chown "$WALRUS_PG_USER" "$pgdata"
    cargo pgrx test "pg$v" --features all-strategies --runas "$WALRUS_PG_USER" --pgdata "$pgdata"
    rm -rf "$pgdata"
done

# Tier 1 runs on the test build: the e2e tests not marked realtime, at most
# 64 clusters at once (past that, two cores starve the tests that drive a WAL
# load; at 100, 4 of 8 full runs on 2026-12-02 each failed one timing-bound
# test).
for v in "${versions[@]}"; do
    log "installing the test build of pg_walrus (test-clock) into PostgreSQL $v"
    cargo pgrx install --pg-config "$(pg_config_for "$v")" \
        --no-default-features --features "pg$v all-strategies test-clock" >/dev/null
done
run_e2e() {
    local tier=$1 marker=$2 cap=$3 cases workers
    cases=$(WALRUS_PG_VERSIONS="${versions[*]}" "$venv/bin/pytest" tests/e2e -m "$marker" --collect-only -q \
        -p no:cacheprovider | grep -c '::')
    workers=$((cases < cap ? cases : cap))
    log "end-to-end tier $tier on PostgreSQL ${versions[*]}: $cases cases, $workers clusters at once"
    WALRUS_PG_VERSIONS="${versions[*]}" "$venv/bin/pytest" tests/e2e -m "$marker" -n "$workers" \
        -p no:cacheprovider --durations=15
}
run_e2e 1 "not realtime" 64

if [ $fast = 1 ]; then
    log "fast run passed in $(($(date +%s) - started)) s (packages and tier 2 skipped)"
    exit 0
fi

# The Debian packages: a release build per major (tier 2 then installs that
# same build), the previous release's package for the upgrade test (built
# from its commit once per machine), and their tests. These install into the
# system's PostgreSQL directories, so they run alone.
log "packages: release builds and Debian packages for PostgreSQL ${versions[*]}"
bash scripts/package.sh "${versions[@]}" >/dev/null
previous=$(awk '$1 !~ /^#/ && NF { v = $1 } END { print v }' scripts/releases.tsv)
log "packages: the previous release, $previous, for the upgrade test"
bash scripts/package.sh --release "$previous" 15 >/dev/null
log "packages: contents, lintian, apt-get install and purge, the upgrade from $previous"
WALRUS_PG_VERSIONS="${versions[*]}" "$venv/bin/pytest" tests/packages -p no:cacheprovider --durations=10

# Tier 2 runs on the release build the packages hold (cargo reuses it), with
# fewer clusters at once: these tests drive real WAL loads and wait on real
# time, and a deadline there detects a hang; it is not the assertion.
for v in "${versions[@]}"; do
    log "installing the release build of pg_walrus into PostgreSQL $v"
    cargo pgrx install --release --pg-config "$(pg_config_for "$v")" \
        --no-default-features --features "pg$v all-strategies" >/dev/null
done
run_e2e 2 realtime 32

log "all tests passed in $(($(date +%s) - started)) s"
