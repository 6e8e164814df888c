#!/usr/bin/env bash
# Fetches PostgreSQL MAJOR's upstream source into DEST, verified, and prints
# "<debian version> <index|pinned>" for the version it unpacked:
#
#   scripts/pg_source.sh 17 /opt/pg_walrus/src/postgresql-17
#
# Candidates, in order: the version the suite's source index names (its
# checksum comes from the index, which apt verifies against Debian's signed
# Release file), then the pins of scripts/pg-sources.tsv, newest first. The
# first candidate whose tarball downloads and matches its SHA-256 wins. We
# build upstream sources without Debian's patches (those move pkglibdir out
# of the prefix), so the .orig tarball is all that is needed.
#
# A tarball already in $WALRUS_CACHE/src with the right checksum is used
# without a download. When every candidate fails, one error names each
# version and location tried and the file where the pins are bumped.
#
# Settings (for local mirrors and the set-up tests):
#   WALRUS_DEBIAN_MIRROR           default http://deb.debian.org/debian
#   WALRUS_DEBIAN_MIRROR_UNSIGNED  1: the mirror's index is unsigned ([trusted=yes])
#   WALRUS_PG_SOURCES              default scripts/pg-sources.tsv
set -euo pipefail
source "$(dirname "$0")/common.sh"

[ $# = 2 ] || die "usage: scripts/pg_source.sh MAJOR DEST"
major=$1 dest=$2
mirror=${WALRUS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
pins=${WALRUS_PG_SOURCES:-$WALRUS_ROOT/scripts/pg-sources.tsv}
downloads="$WALRUS_CACHE/src"
mkdir -p "$downloads"

[ -r "$pins" ] || die "no pin file at $pins"
suite=$(awk -F'\t' -v m="$major" '$1 == m {print $2; exit}' "$pins")
[ -n "$suite" ] || die "$pins has no pin for PostgreSQL $major: add one (see its header)"

# Candidate rows: version, pool directory, tarball, sha256, origin.
candidates=()

# The index's version, if the index can be read at all.
index_candidate() {
    local apt_dir="$WALRUS_CACHE/apt-$suite" trusted="" record
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
    [ "${WALRUS_DEBIAN_MIRROR_UNSIGNED:-0}" = 1 ] && trusted="[trusted=yes] "
    echo "deb-src $trusted$mirror $suite main" >"$apt_dir/sources.list"
    # A private configuration keeps these source lists away from the system's.
    local apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
        -o "Acquire::http::Timeout=20" -o "Acquire::Retries=1")
    if ! apt-get "${apt_opts[@]}" update -qq >"$apt_dir/update.log" 2>&1; then
        log "the $suite source index could not be read ($(tail -n 1 "$apt_dir/update.log")); using the pins"
        return 0
    fi
    # The newest record's version, directory and upstream tarball.
    record=$(apt-cache "${apt_opts[@]}" showsrc "postgresql-$major" 2>/dev/null | awk '
        /^Package: / { pkg = $2 }
        /^Version: / { ver = $2 }
        /^Directory: / { dir = $2 }
        /^Checksums-Sha256:/ { sums = 1; next }
        /^[^ ]/ { sums = 0 }
        sums && $3 ~ /\.orig\.tar\./ { file = $3; sha = $1 }
        /^$/ { if (pkg != "" && file != "") print ver, dir, file, sha; pkg = file = "" }
        END { if (pkg != "" && file != "") print ver, dir, file, sha }' |
        while read -r ver dir file sha; do echo "$ver $dir $file $sha"; done |
        newest_first | head -n 1)
    if [ -z "$record" ]; then
        log "the $suite source index names no postgresql-$major; using the pins"
        return 0
    fi
    candidates+=("$record index")
}

# Sorts "version ..." lines by Debian version, newest first.
newest_first() {
    local lines=() line i j
    while read -r line; do lines+=("$line"); done
    for ((i = 0; i < ${#lines[@]}; i++)); do
        for ((j = i + 1; j < ${#lines[@]}; j++)); do
            if dpkg --compare-versions "${lines[j]%% *}" gt "${lines[i]%% *}"; then
                line=${lines[i]} lines[i]=${lines[j]} lines[j]=$line
            fi
        done
    done
    [ ${#lines[@]} = 0 ] || printf '%s\n' "${lines[@]}"
}

index_candidate
while IFS=$'\t' read -r m _ ver file sha; do
    [ "$m" = "$major" ] || continue
    candidates+=("$ver pool/main/p/postgresql-$major $file $sha pinned")
done < <(grep -v '^#' "$pins")

# Downloads one candidate's tarball into the cache (or finds it there) and
# checks it; prints why not on failure.
fetch_verified() {
    local dir=$1 file=$2 sha=$3 target="$downloads/$2" part
    if [ -f "$target" ] && echo "$sha  $target" | sha256sum --check --status; then
        return 0
    fi
    part="$target.part"
    if ! curl -fsS --connect-timeout 15 --max-time 900 --retry 2 -o "$part" "$mirror/$dir/$file" 2>"$part.err"; then
        printf '%s\n' "$(tr -d '\n' <"$part.err" | sed 's/^curl: ([0-9]*) //')"
        rm -f "$part" "$part.err"
        return 1
    fi
    rm -f "$part.err"
    if ! echo "$sha  $part" | sha256sum --check --status; then
        echo "checksum mismatch (got $(sha256sum "$part" | cut -d' ' -f1), want $sha)"
        rm -f "$part"
        return 1
    fi
    mv "$part" "$target"
}

tried=()
for candidate in "${candidates[@]}"; do
    read -r ver dir file sha origin <<<"$candidate"
    # The same version can be both the index's and a pin: try it once.
    case " ${tried[*]} " in *" $ver ("*) continue ;; esac
    if reason=$(fetch_verified "$dir" "$file" "$sha"); then
        work=$(mktemp -d "$downloads/unpack-XXXXXX")
        tar -xf "$downloads/$file" -C "$work"
        top=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n 1)
        if [ -z "$top" ] || [ ! -f "$top/configure" ]; then
            die "$file holds no PostgreSQL source tree"
        fi
        rm -rf "$dest"
        mv "$top" "$dest"
        rm -rf "$work"
        log "PostgreSQL $major source: $ver ($origin, sha256 $sha)"
        echo "$ver $origin"
        exit 0
    fi
    log "postgresql-$major $ver ($origin) could not be fetched: $reason"
    tried+=("$ver ($origin) from $mirror/$dir/$file: $reason")
done

{
    echo "error: no source of PostgreSQL $major could be fetched. Tried:"
    [ ${#tried[@]} = 0 ] && echo "  (no candidate: the index could not be read and $pins has no pin for $major)"
    for t in "${tried[@]}"; do echo "  - $t"; done
    echo "Pinned versions live in $pins: add a fetchable version there (its header says how)."
} >&2
exit 1
