#!/usr/bin/env bash
# Build the TimescaleDB extension (Apache-2 edition) from Debian trixie's source package and
# install it into the system's PostgreSQL 15. Does nothing when it is already installed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

TSDB_VERSION="${TSDB_VERSION:-2.19.3}"
TSDB_DEB_VERSION="${TSDB_DEB_VERSION:-$TSDB_VERSION+dfsg-1+deb13u1}"
WORK="$ROOT/.cache/timescaledb"

installed() { [ -f "$("$PG_CONFIG" --sharedir)/extension/timescaledb--$TSDB_VERSION.sql" ]; }

debian_mirror() {
    # The mirror the machine already uses, so no registry host is written into the repo.
    local uri=""
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
    fi
    [ -n "$uri" ] || fail "no Debian mirror found in the apt sources" "add a bookworm 'deb' line to /etc/apt/sources.list"
    echo "$uri"
}

fetch_source() {
    # A private apt state under .cache keeps the system's sources untouched.
    local apt_dir="$WORK/apt"
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$WORK/src"
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(debian_mirror) trixie main" \
        >"$apt_dir/sources.list"
    local opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "APT::Sandbox::User=root")
    step "fetching the timescaledb $TSDB_VERSION source package (Debian trixie)"
    apt-get "${opts[@]}" -qq update || fail "could not read the trixie source index" "check the network"
    (cd "$WORK/src" && apt-get "${opts[@]}" -qq source "timescaledb=$TSDB_DEB_VERSION") \
        || fail "apt-get source timescaledb=$TSDB_DEB_VERSION failed" "is dpkg-dev installed? is the version still in trixie?"
}

build_and_install() {
    local src
    src=$(find "$WORK/src" -maxdepth 1 -type d -name "timescaledb-$TSDB_VERSION*" | head -1)
    [ -n "$src" ] || fail "unpacked timescaledb source not found under $WORK/src"
    step "building timescaledb $TSDB_VERSION (about a minute)"
    cmake -S "$src" -B "$WORK/build" -DPG_CONFIG="$PG_CONFIG" -DAPACHE_ONLY=1 -DREGRESS_CHECKS=OFF \
        -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF -DUSE_TELEMETRY=OFF -DSEND_TELEMETRY_DEFAULT=OFF \
        -DCMAKE_BUILD_TYPE=Release >"$WORK/cmake.log" 2>&1 \
        || fail "cmake configure failed" "see $WORK/cmake.log"
    cmake --build "$WORK/build" -j "$(nproc)" >"$WORK/build.log" 2>&1 \
        || fail "timescaledb build failed" "see $WORK/build.log"
    as_root cmake --install "$WORK/build" >"$WORK/install.log" 2>&1 \
        || fail "timescaledb install failed" "see $WORK/install.log"
}

if installed; then
    echo "timescaledb $TSDB_VERSION already installed"
    exit 0
fi
apt_install postgresql-15 postgresql-server-dev-15 build-essential cmake dpkg-dev libssl-dev gnupg
fetch_source
build_and_install
installed || fail "timescaledb $TSDB_VERSION is still missing after install"
step "timescaledb $TSDB_VERSION installed"
