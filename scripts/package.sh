#!/usr/bin/env bash
# Builds pg_walrus's Debian binary packages, one per PostgreSQL major:
# postgresql-NN-walrus_<version>-1_<arch>.deb in dist/ (see docs/releasing.md).
#
#   scripts/package.sh                    # PostgreSQL 15, 17 and 18
#   scripts/package.sh 15 17              # those majors
#   scripts/package.sh --release 0.2.0 15 # a previous release, built from its
#                                         # commit (scripts/releases.tsv) into
#                                         # the cache, once per machine
#
# Prints the path of every package it made, one a line, on stdout.
# Each package holds the release build of the library, every install and
# upgrade script, and its docs; files go where Debian's own postgresql-NN
# packages keep theirs, whichever PostgreSQL of that major the build used.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$WALRUS_ROOT"

release=
versions=()
while [ $# -gt 0 ]; do
    case $1 in
        --release)
            [ $# -ge 2 ] || die "--release needs a version"
            release=$2
            shift 2
            ;;
        [0-9]*)
            versions+=("$1")
            shift
            ;;
        *) die "unknown argument: $1 (usage: scripts/package.sh [--release VERSION] [15 17 18])" ;;
    esac
done
[ ${#versions[@]} -gt 0 ] || versions=(15 17 18)

templates="$WALRUS_ROOT/scripts/debian"
arch=$(dpkg --print-architecture)

# --- which tree to build, and where the packages go ---------------------------
if [ -z "$release" ]; then
    source_dir=$WALRUS_ROOT
    out_dir=$WALRUS_ROOT/dist
else
    commit=$(awk -v v="$release" '$1 == v { print $2 }' scripts/releases.tsv)
    [ -n "$commit" ] || die "release $release is not in scripts/releases.tsv"
    git cat-file -e "$commit^{commit}" 2>/dev/null ||
        die "commit $commit of release $release is not in this clone (a shallow clone? git fetch --unshallow)"
    out_dir="$WALRUS_CACHE/releases/$release-${commit:0:12}"
    source_dir="$out_dir/src"
    # A target directory of its own: the old tree's library must never be
    # the one a later build of the current tree finds in target/release.
    export CARGO_TARGET_DIR="$WALRUS_CACHE/releases/target"
    if [ ! -f "$source_dir/Cargo.toml" ]; then
        log "checking out release $release ($commit) into $source_dir"
        rm -rf "$source_dir"
        mkdir -p "$source_dir"
        git archive "$commit" | tar -x -C "$source_dir"
    fi
fi
mkdir -p "$out_dir"
version=$(sed -n 's/^version = "\([^"]*\)".*/\1/p' "$source_dir/Cargo.toml" | head -n 1)
[ -z "$release" ] || [ "$version" = "$release" ] ||
    die "commit $commit says version $version, not $release (scripts/releases.tsv)"
maintainer=${WALRUS_MAINTAINER:-$(git log -1 --format='%an <%ae>')}

# The Debian changelog from this version's entry down, and the release notes
# (CHANGELOG.md) from this version's section down.
debian_changelog() {
    awk -v v="pg-walrus ($version-1)" 'index($0, v) == 1 { on = 1 } on' "$templates/changelog" |
        sed "s/@MAINTAINER@/$maintainer/"
}
release_notes() {
    awk -v v="## [$version]" 'index($0, v) == 1 { on = 1 } on' CHANGELOG.md
}
[ -n "$(debian_changelog)" ] || die "scripts/debian/changelog has no entry for $version-1"
[ -n "$(release_notes)" ] || die "CHANGELOG.md has no section for $version"

# The Rust crates linked into the library, with their declared licenses.
linked_crates() {
    local v=$1
    (cd "$source_dir" && cargo tree -p pg_walrus -e normal,no-proc-macro --no-default-features --features "pg$v all-strategies" \
        --prefix none --format '{p}: {l}' 2>/dev/null) |
        grep ': ' | sed 's/ (.*)//; s/ v\([0-9]\)/ \1/' | grep -v '^pg_walrus \|^walrus-strategies ' | LC_ALL=C sort -u | sed 's/^/  /'
}

copyright() {
    local v=$1
    # DEP-5 continuation lines start with a space; an empty line is " .".
    awk -v crates="$(linked_crates "$v")" -v license="$(tail -n +3 LICENSE | sed 's/^$/./; s/^/ /')" '
        $0 == "@CRATES@" { print crates; next }
        $0 == "@LICENSE@" { print license; next }
        { print }' "$templates/copyright.in"
}

build_package() {
    local v=$1 pg_config stage root package doc deb build_log shlibs
    pg_config=$(pg_config_for "$v")
    package=postgresql-$v-walrus
    deb="$out_dir/${package}_$version-1_$arch.deb"
    if [ -n "$release" ] && [ -f "$deb" ]; then
        log "release $release for PostgreSQL $v: cached $deb"
        echo "$deb"
        return 0
    fi
    bash "$WALRUS_ROOT/scripts/setup.sh" "$v"

    stage=$(mktemp -d "/tmp/walrus-package-pg$v-XXXXXX")
    log "building pg_walrus $version for PostgreSQL $v (release)"
    build_log="$stage/build.log"
    if ! (cd "$source_dir" && cargo pgrx package --pg-config "$pg_config" --out-dir "$stage/pgrx" \
        --no-default-features --features "pg$v all-strategies") >"$build_log" 2>&1; then
        cat "$build_log" >&2
        die "the release build for PostgreSQL $v failed"
    fi

    # Debian's layout, whatever prefix this major's pg_config has.
    root="$stage/root"
    mkdir -p "$root/usr/lib/postgresql/$v/lib" "$root/usr/share/postgresql/$v/extension" "$root/DEBIAN"
    cp "$stage/pgrx$("$pg_config" --pkglibdir)/pg_walrus.so" "$root/usr/lib/postgresql/$v/lib/"
    cp "$stage/pgrx$("$pg_config" --sharedir)"/extension/pg_walrus* "$root/usr/share/postgresql/$v/extension/"
    # What dh_strip does to a shared object: keep the exported symbols
    # PostgreSQL looks up (Pg_magic_func, the pg_finfo_* and function symbols).
    strip --remove-section=.comment --remove-section=.note --strip-unneeded \
        "$root/usr/lib/postgresql/$v/lib/pg_walrus.so"

    doc="$root/usr/share/doc/$package"
    mkdir -p "$doc/examples"
    copyright "$v" >"$doc/copyright"
    debian_changelog | gzip -9n >"$doc/changelog.Debian.gz"
    release_notes | gzip -9n >"$doc/changelog.gz"
    gzip -9n <"$source_dir/README.md" >"$doc/README.md.gz"
    cp "$source_dir"/docs/monitoring/* "$doc/examples/"

    for script in prerm postinst; do
        sed "s/@PG@/$v/g" "$templates/$script" >"$root/DEBIAN/$script"
    done
    find "$root" -type d -exec chmod 0755 {} +
    find "$root" -type f -exec chmod 0644 {} +
    chmod 0755 "$root/DEBIAN/prerm" "$root/DEBIAN/postinst"

    # The shared libraries the library links (libc, libgcc), as dpkg-shlibdeps
    # reads them; it wants a debian/control beside it.
    mkdir -p "$stage/shlibs/debian"
    printf 'Source: pg-walrus\n\nPackage: %s\nArchitecture: any\n' "$package" >"$stage/shlibs/debian/control"
    shlibs=$(cd "$stage/shlibs" && dpkg-shlibdeps -O -e"$root/usr/lib/postgresql/$v/lib/pg_walrus.so" 2>/dev/null |
        sed -n 's/^shlibs:Depends=//p')
    [ -n "$shlibs" ] || die "dpkg-shlibdeps found no dependencies for pg_walrus.so"

    (cd "$root" && find usr -type f | LC_ALL=C sort | xargs md5sum) >"$root/DEBIAN/md5sums"
    sed -e "s/@PG@/$v/g" -e "s/@VERSION@/$version-1/" -e "s/@ARCH@/$arch/" \
        -e "s/@MAINTAINER@/$maintainer/" -e "s/@SIZE@/$(du -sk "$root/usr" | cut -f1)/" \
        -e "s/@SHLIBS@/$shlibs/" "$templates/control.in" >"$root/DEBIAN/control"

    dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
    rm -rf "$stage"
    log "built $deb ($(du -k "$deb" | cut -f1) KiB)"
    echo "$deb"
}

for v in "${versions[@]}"; do
    build_package "$v"
done
