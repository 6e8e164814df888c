# Shared settings for pg_walrus's scripts. Sourced, never run.
# shellcheck shell=bash

WALRUS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export WALRUS_ROOT

# Built PostgreSQL trees, apt caches and downloaded sources live outside the
# clone so that every clone on this machine (and every CI run) reuses them.
# Not under /root: the unprivileged cluster user must be able to run the binaries.
WALRUS_CACHE=${WALRUS_CACHE:-/opt/pg_walrus}
export WALRUS_CACHE

# Compiled crates live in the cache too, shared by every clone: a fresh CI
# clone then compiles only pg_walrus's own two crates, not pgrx and its
# bindings again for each check, test and install (cargo locks the directory,
# so two runs at once wait for each other rather than collide).
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$WALRUS_CACHE/target}
export CARGO_TARGET_DIR

# When the first script of this run started, for the elapsed time in log lines.
WALRUS_STARTED=${WALRUS_STARTED:-$(date +%s)}
export WALRUS_STARTED

# PostgreSQL refuses to run as root; test and demo clusters run as this user.
WALRUS_PG_USER=${WALRUS_PG_USER:-postgres}
export WALRUS_PG_USER

# The versions CI covers. `scripts/test.sh --all-versions` adds 18.
WALRUS_DEFAULT_PG_VERSIONS=${WALRUS_DEFAULT_PG_VERSIONS:-"15 17"}

export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\033[1m==> [%4d s] %s\033[0m\n' "$(($(date +%s) - WALRUS_STARTED))" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The pgrx version pinned in Cargo.toml; cargo-pgrx must match it exactly.
pgrx_version() {
    sed -n 's/^pgrx = "=\([0-9.]*\)".*/\1/p' "$WALRUS_ROOT/Cargo.toml" | head -n 1
}

# pg_config for a major version: Debian's package for 15, our own build otherwise.
pg_config_for() {
    local v=$1
    if [ "$v" = 15 ]; then
        echo /usr/lib/postgresql/15/bin/pg_config
    else
        echo "$WALRUS_CACHE/pg$v/bin/pg_config"
    fi
}

pg_bindir_for() { "$(pg_config_for "$1")" --bindir; }

# A TCP port nobody listens on, starting from a per-caller base.
free_port() {
    local port=${1:-54400}
    while ss -Htln "sport = :$port" | grep -q . ; do port=$((port + 1)); done
    echo "$port"
}

# Run a command as the unprivileged cluster user (or as ourselves when not root).
as_pg_user() {
    if [ "$(id -u)" = 0 ]; then
        sudo -u "$WALRUS_PG_USER" -- "$@"
    else
        "$@"
    fi
}

# Sets PostgreSQL `$1` up (scripts/setup.sh) and installs a release build of
# pg_walrus with every strategy into it: what the demo and the benchmarks
# run. The build's output is shown only when it fails.
install_release_build() {
    local version=$1 build_log
    bash "$WALRUS_ROOT/scripts/setup.sh" "$version"
    log "building and installing pg_walrus into PostgreSQL $version"
    build_log=$(mktemp)
    if ! cargo pgrx install --release --pg-config "$(pg_config_for "$version")" \
        --no-default-features --features "pg$version all-strategies" >"$build_log" 2>&1; then
        cat "$build_log"
        die "the build failed"
    fi
    rm -f "$build_log"
}

# Runs the Python benchmark scripts/`$1` with the remaining arguments
# ([version] first, 15 by default) on a release build installed into that
# PostgreSQL, in the e2e suite's venv.
run_python_benchmark() {
    local script=$1 venv
    shift
    install_release_build "${1:-15}"
    venv=$(bash "$WALRUS_ROOT/scripts/venv.sh" venv tests/e2e/requirements.txt)
    exec "$venv/bin/python" "$WALRUS_ROOT/scripts/$script" "$@"
}
