#!/usr/bin/env bash
# Installs everything pg_walrus needs to build and test, on a fresh Debian 12
# machine, as root. Idempotent: each step checks before it works, so a warm run
# takes seconds.
#
#   scripts/setup.sh            # PostgreSQL 15 (Debian) and 17 (built from source)
#   scripts/setup.sh 15 17 18   # choose the versions
set -euo pipefail
source "$(dirname "$0")/common.sh"

versions=("$@")
[ ${#versions[@]} -gt 0 ] || read -r -a versions <<<"$WALRUS_DEFAULT_PG_VERSIONS"

[ "$(id -u)" = 0 ] || die "run setup as root (it installs Debian packages)"

# --- Debian packages ---------------------------------------------------------
packages=(
    build-essential pkg-config clang libclang-dev
    bison flex libreadline-dev zlib1g-dev libssl-dev libxml2-dev
    dpkg-dev sudo iproute2 procps jq python3 python3-venv
    postgresql-15 postgresql-server-dev-15 postgresql-contrib
    prometheus prometheus-postgres-exporter
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Do not let the package start a system cluster on 5432: we never use it.
    mkdir -p /etc/postgresql-common
    [ -f /etc/postgresql-common/createcluster.conf ] ||
        echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- the unprivileged cluster user ------------------------------------------
id -u "$WALRUS_PG_USER" >/dev/null 2>&1 || useradd --system --create-home "$WALRUS_PG_USER"

# --- cargo-pgrx, same version as the pgrx crate ------------------------------
want=$(pgrx_version)
[ -n "$want" ] || die "could not read the pgrx version from Cargo.toml"
have=$(cargo pgrx --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
    log "installing cargo-pgrx $want (about 8 minutes)"
    cargo install cargo-pgrx --version "$want" --locked --quiet
fi

# --- PostgreSQL builds from Debian source packages ---------------------------
# PG 17 comes from trixie, 18 from sid; a private apt configuration keeps those
# source lists away from the system's own.
suite_for() { case $1 in 17) echo trixie ;; 18) echo sid ;; *) die "no source suite for PostgreSQL $1" ;; esac; }

build_postgres() {
    local v=$1 prefix="$WALRUS_CACHE/pg$1" suite apt_dir src
    # The marker names the build recipe: change it when the recipe changes.
    [ -x "$prefix/bin/pg_config" ] && [ -f "$prefix/.walrus-build-upstream" ] && return 0
    suite=$(suite_for "$v")
    apt_dir="$WALRUS_CACHE/apt-$suite"
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$WALRUS_CACHE/src"
    echo "deb-src http://deb.debian.org/debian $suite main" >"$apt_dir/sources.list"
    local apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache")
    log "fetching postgresql-$v sources from $suite"
    apt-get "${apt_opts[@]}" update -qq
    # Upstream sources without Debian's patches: those move pkglibdir to
    # /usr/lib/postgresql/N/lib, outside our prefix.
    src="$WALRUS_CACHE/src/postgresql-$v-upstream"
    if [ ! -f "$src/configure" ]; then
        rm -rf "$src"
        (cd "$WALRUS_CACHE/src" && apt-get "${apt_opts[@]}" source -qq --download-only "postgresql-$v" >/dev/null &&
            dpkg-source --skip-patches -x "$(ls -t postgresql-"$v"_*.dsc | head -n 1)" "$src" >/dev/null)
    fi
    [ -f "$src/configure" ] || die "apt-get source postgresql-$v produced no source tree"
    log "building PostgreSQL $v into $prefix (about 5 minutes)"
    # Assertions on: the test builds should catch misuse of backend APIs early.
    (cd "$src" &&
        ./configure --prefix="$prefix" --without-icu --enable-debug --enable-cassert \
            --with-openssl >/dev/null &&
        make -s -j"$(nproc)" >/dev/null &&
        rm -rf "$prefix" &&
        make -s install >/dev/null &&
        make -s -C contrib/pg_stat_statements install >/dev/null)
    touch "$prefix/.walrus-build-upstream"
}

for v in "${versions[@]}"; do
    [ "$v" = 15 ] || build_postgres "$v"
done

# --- point pgrx at the local pg_configs (never let it download) --------------
init_args=()
for v in "${versions[@]}"; do init_args+=("--pg$v" "$(pg_config_for "$v")"); done
config="$HOME/.pgrx/config.toml"
need_init=0
for v in "${versions[@]}"; do
    grep -q "^pg$v = \"$(pg_config_for "$v")\"" "$config" 2>/dev/null || need_init=1
done
if [ $need_init = 1 ]; then
    # Keep versions initialised earlier (the full matrix) when CI asks for fewer.
    for v in 15 16 17 18; do
        case " ${versions[*]} " in *" $v "*) continue ;; esac
        line=$(grep "^pg$v = " "$config" 2>/dev/null || true)
        [ -n "$line" ] && init_args+=("--pg$v" "$(echo "$line" | sed 's/^[^"]*"\(.*\)"$/\1/')")
    done
    log "cargo pgrx init ${init_args[*]}"
    cargo pgrx init "${init_args[@]}" >/dev/null
fi

# Extension files are installed into each PostgreSQL's share/lib directories;
# the cluster user only needs to read them.
log "setup complete: PostgreSQL ${versions[*]}, cargo-pgrx $want"
