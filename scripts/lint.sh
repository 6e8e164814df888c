#!/usr/bin/env bash
# The project's own checks, run by scripts/test.sh before any test: rustfmt,
# clippy (warnings are errors; every unsafe block documented), ruff and
# ShellCheck. Needs scripts/setup.sh first (pgrx's pg_configs, ShellCheck).
#
#   scripts/lint.sh                  # clippy for PostgreSQL 15 and 17
#   scripts/lint.sh VENV 15 17 18    # VENV: a venv with ruff; the versions
#                                    # to lint for (set up by scripts/setup.sh)
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$WALRUS_ROOT"
venv=${1:-$(bash scripts/venv.sh venv tests/e2e/requirements.txt)}
shift || true
versions=("$@")
[ ${#versions[@]} -gt 0 ] || read -r -a versions <<<"$WALRUS_DEFAULT_PG_VERSIONS"

log "lint: rustfmt"
cargo fmt --all --check

log "lint: clippy on the strategies crate (default, all and no features)"
for features in --features=default --all-features --no-default-features; do
    cargo clippy --quiet --all-targets -p walrus-strategies "$features" -- -D warnings
done

# The extension as the tests build it (every strategy, each version) and with
# no optional strategy: the cfg'd branches of each get linted.
log "lint: clippy on the extension (PostgreSQL ${versions[*]})"
for v in "${versions[@]}"; do
    cargo clippy --quiet --all-targets --no-default-features --features "pg$v all-strategies" -- -D warnings
done
cargo clippy --quiet --all-targets --no-default-features --features "pg${versions[0]}" -- -D warnings
# The test build (tier 1's), whose clock the tests move.
cargo clippy --quiet --all-targets --no-default-features --features "pg${versions[0]} all-strategies test-clock" -- -D warnings

log "lint: no import cycle among the Rust modules, and the layers (pg/ below everything, only worker/ imports worker/)"
"$venv/bin/python" scripts/check_module_cycles.py src strategies/src

log "lint: release (versions agree, upgrade paths, release notes) and META.json against the PGXN spec"
"$venv/bin/python" scripts/check_release.py
"$WALRUS_CACHE/tools/bin/pgxn_meta" META.json >/dev/null

log "lint: ruff (tests/, scripts/)"
"$venv/bin/ruff" check --no-cache tests scripts
"$venv/bin/ruff" format --check --no-cache tests scripts

log "lint: shellcheck (scripts/*.sh, .ci/run, the packages' maintainer scripts)"
shellcheck -x -P SCRIPTDIR scripts/*.sh .ci/run
shellcheck --shell=sh scripts/debian/prerm scripts/debian/postinst
