#!/usr/bin/env bash
# Runs every pg_walrus test, installing what it needs first (scripts/setup.sh):
#   0. the project's checks (scripts/lint.sh: rustfmt, clippy, ruff,
#      ShellCheck), then set-up's own tests (PostgreSQL source fallback);
#   1. the strategies crate's unit tests (plain cargo test, no PostgreSQL);
#   2. `cargo pgrx test` on each PostgreSQL version, library preloaded;
#   3. the Debian packages (scripts/package.sh) and their tests: contents,
#      lintian, apt-get install on a real server, purge, and the upgrade
#      from the previous release's package;
#   4. the end-to-end suite: real clusters, real WAL load, real waits on the
#      worker, all tests at once (each on its own cluster and port).
#
#   scripts/test.sh                  # PostgreSQL 15 and 17 (what CI runs)
#   scripts/test.sh --all-versions   # 15, 17 and 18
#   scripts/test.sh 17               # one version
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$WALRUS_ROOT"

versions=()
for arg in "$@"; do
    case $arg in
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

# The Debian packages: a release build per major (the end-to-end suite then
# installs that same build), the previous release's package for the upgrade
# test (built from its commit once per machine), and their tests. These
# install into the system's PostgreSQL directories, so they run alone.
log "packages: release builds and Debian packages for PostgreSQL ${versions[*]}"
bash scripts/package.sh "${versions[@]}" >/dev/null
previous=$(awk '$1 !~ /^#/ && NF { v = $1 } END { print v }' scripts/releases.tsv)
log "packages: the previous release, $previous, for the upgrade test"
bash scripts/package.sh --release "$previous" 15 >/dev/null
log "packages: contents, lintian, apt-get install and purge, the upgrade from $previous"
WALRUS_PG_VERSIONS="${versions[*]}" "$venv/bin/pytest" tests/packages -p no:cacheprovider --durations=10

# `cargo pgrx test` installed a build with the test schema, and the package
# tests removed theirs; the end-to-end suite runs against the release build
# the packages hold (cargo reuses it).
for v in "${versions[@]}"; do
    log "installing pg_walrus into PostgreSQL $v (release build)"
    cargo pgrx install --release --pg-config "$(pg_config_for "$v")" \
        --no-default-features --features "pg$v all-strategies" >/dev/null
done

log "end-to-end tests on PostgreSQL ${versions[*]}"
# The tests mostly wait on the worker's 30 s cycle, so they all run at once.
tests_per_version=$(grep -c '^def test_' tests/e2e/test_*.py | awk -F: '{s += $2} END {print s}')
workers=$((tests_per_version * ${#versions[@]}))
# At most 64 clusters at once: past that, two cores starve the tests that
# drive a WAL load (a load that writes half its nominal rate proves less) or
# wait on a scrape, a log line or a cycle; the rest start as the first ones
# finish. At 100, 4 of 8 full runs on 2026-12-02 each failed one different
# timing-bound test.
[ "$workers" -le 64 ] || workers=64
WALRUS_PG_VERSIONS="${versions[*]}" "$venv/bin/pytest" tests/e2e -n "$workers" -p no:cacheprovider --durations=25

log "all tests passed in $(( $(date +%s) - started )) s"
