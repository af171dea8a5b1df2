#!/usr/bin/env bash
# Install everything the project needs on Debian 12: system packages, the TimescaleDB extension,
# and the locked Python environment in .venv. Quick and silent when all is already there.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

UV_VERSION=0.13.9
UV_HOME="$ROOT/.cache/uv"

python_env() {
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
        apt_install python3 python3-venv
    fi
    if [ ! -x "$UV_HOME/bin/uv" ] || [ "$("$UV_HOME/bin/uv" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
        step "installing uv $UV_VERSION into .cache/uv"
        rm -rf "$UV_HOME"
        python3 -m venv "$UV_HOME" || fail "could not create a virtual environment" "apt-get install python3-venv"
        "$UV_HOME/bin/pip" install -q "uv==$UV_VERSION" || fail "pip install uv failed" "check access to PyPI"
    fi
    # --frozen: install exactly what uv.lock pins; never re-resolve on a user's machine.
    UV_PYTHON_DOWNLOADS=never "$UV_HOME/bin/uv" sync --frozen --quiet \
        || fail "uv sync failed" "check access to PyPI; uv.lock pins every dependency"
}

apt_install make ca-certificates
bash "$ROOT/scripts/install-timescaledb.sh" | grep -v "already installed" || true
python_env
