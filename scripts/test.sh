#!/usr/bin/env bash
# The whole test suite: formatting, lint, types, then pytest against the local TimescaleDB.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

bash scripts/setup.sh
# The browser tests drive Debian's Chromium through Playwright (no browser download).
apt_install chromium fonts-dejavu-core
step "ruff format --check"
.venv/bin/ruff format --check .
step "ruff check"
.venv/bin/ruff check .
step "mypy"
.venv/bin/mypy

use_project_database
step "pytest"
.venv/bin/pytest "$@"
