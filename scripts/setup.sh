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
    curl dpkg-dev lintian sudo iproute2 procps jq python3 python3-venv shellcheck
    postgresql-15 postgresql-server-dev-15 postgresql-contrib
    prometheus prometheus-postgres-exporter etcd-server
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

# --- pgxn_meta: PGXN's own META.json validator (scripts/lint.sh) --------------
pgxn_meta_version=0.7.0
if [ "$("$WALRUS_CACHE/tools/bin/pgxn_meta" --version 2>/dev/null | awk '{print $2}')" != "$pgxn_meta_version" ]; then
    log "installing pgxn_meta $pgxn_meta_version (about a minute)"
    cargo install pgxn_meta --version "$pgxn_meta_version" --locked --root "$WALRUS_CACHE/tools" --quiet
fi

# --- PostgreSQL builds from Debian's upstream source tarballs -----------------
# PG 17 comes from trixie, 18 from sid (scripts/pg_source.sh picks the version
# and verifies it). A built prefix records which version it holds: a warm run
# reads that record and touches no network.
build_postgres() {
    local v=$1 prefix="$WALRUS_CACHE/pg$1" src fetched
    local record="$prefix/.walrus-build"
    if [ -x "$prefix/bin/pg_config" ] && [ -f "$record" ] && grep -q "^recipe=$BUILD_RECIPE\$" "$record"; then
        log "PostgreSQL $v: cached build of $(sed -n 's/^version=//p' "$record") in $prefix"
        return 0
    fi
    src="$WALRUS_CACHE/src/postgresql-$v"
    fetched=$(bash "$WALRUS_ROOT/scripts/pg_source.sh" "$v" "$src")
    log "building PostgreSQL $v ($fetched) into $prefix (about 5 minutes)"
    # Assertions on: the test builds should catch misuse of backend APIs early.
    (cd "$src" &&
        ./configure --prefix="$prefix" --without-icu --enable-debug --enable-cassert \
            --with-openssl >/dev/null &&
        make -s -j"$(nproc)" >/dev/null &&
        rm -rf "$prefix" &&
        make -s install >/dev/null &&
        make -s -C contrib/pg_stat_statements install >/dev/null)
    rm -rf "$src"
    printf 'version=%s\norigin=%s\nrecipe=%s\nbuilt=%s\n' "${fetched%% *}" "${fetched#* }" "$BUILD_RECIPE" \
        "$(date -u +%FT%TZ)" >"$record"
}
# Names the build recipe (configure flags, source kind): change it when the
# recipe changes, and every cached build is rebuilt once.
BUILD_RECIPE=upstream-cassert-1

for v in "${versions[@]}"; do
    [ "$v" = 15 ] || build_postgres "$v"
done

# --- point pgrx at the local pg_configs (never let it download) --------------
init_args=()
for v in "${versions[@]}"; do init_args+=("--pg$v" "$(pg_config_for "$v")"); done
config="$HOME/.pgrx/config.toml"
# A build that is gone (a throwaway WALRUS_CACHE) leaves its line behind,
# and pgrx's build then fails on the missing pg_config: drop such lines.
if [ -f "$config" ]; then
    while read -r stale; do
        log "dropping $stale from $config: that pg_config is gone"
        grep -vxF "$stale" "$config" >"$config.new" || true
        mv "$config.new" "$config"
    done < <(awk -F'"' '/^pg[0-9]+ = "/ { if (system("test -x \"" $2 "\"") != 0) print }' "$config")
fi
need_init=0
for v in "${versions[@]}"; do
    grep -q "^pg$v = \"$(pg_config_for "$v")\"" "$config" 2>/dev/null || need_init=1
done
if [ $need_init = 1 ]; then
    # Keep versions initialised earlier (the full matrix) when CI asks for fewer.
    for v in 15 16 17 18; do
        case " ${versions[*]} " in *" $v "*) continue ;; esac
        line=$(grep "^pg$v = " "$config" 2>/dev/null || true)
        # pgN = "/path/to/pg_config"
        [ -n "$line" ] && pg_config_path=${line#*\"} && init_args+=("--pg$v" "${pg_config_path%\"}")
    done
    log "cargo pgrx init ${init_args[*]}"
    cargo pgrx init "${init_args[@]}" >/dev/null
fi

# Extension files are installed into each PostgreSQL's share/lib directories;
# the cluster user only needs to read them.
log "setup complete: PostgreSQL ${versions[*]}, cargo-pgrx $want"
