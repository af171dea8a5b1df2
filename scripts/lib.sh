# Shared helpers for the project's shell scripts (sourced, not run).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_CONFIG="${PG_CONFIG:-$PG_BIN/pg_config}"

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
fail() {
    # Name the step that failed and what to do about it, then stop.
    printf '\033[31mERROR: %s\033[0m\n' "$1" >&2
    [ -n "${2:-}" ] && printf '       %s\n' "$2" >&2
    exit 1
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        fail "need root for: $*" "run as root or install sudo"
    fi
}

apt_updated=""
apt_install() {
    # Install Debian packages that are missing; update the package lists only once per run.
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    step "installing Debian packages: ${missing[*]}"
    if [ -z "$apt_updated" ]; then
        as_root apt-get update -qq || fail "apt-get update failed" "check the network and /etc/apt/sources.list*"
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        || fail "apt-get install ${missing[*]} failed" "see the apt output above"
}

use_project_database() {
    # Start the local cluster for this run and point the tests' helpers at it. A database
    # someone else started is left running; one this run started is stopped when it exits.
    local was_running=""
    bash "$ROOT/scripts/db.sh" status >/dev/null 2>&1 && was_running=1
    bash "$ROOT/scripts/db.sh" start
    [ -z "$was_running" ] && trap 'bash "$ROOT/scripts/db.sh" stop' EXIT
    export RIDETHROUGH_TEST_DATABASE_URL="${RIDETHROUGH_TEST_DATABASE_URL:-$(bash "$ROOT/scripts/db.sh" url)}"
}
