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

db_was_running=""
bash scripts/db.sh status >/dev/null 2>&1 && db_was_running=1
bash scripts/db.sh start
# Leave a database someone else started running; stop the one this run started.
[ -z "$db_was_running" ] && trap 'bash scripts/db.sh stop' EXIT

export RIDETHROUGH_TEST_DATABASE_URL="${RIDETHROUGH_TEST_DATABASE_URL:-$(bash scripts/db.sh url)}"
step "pytest"
.venv/bin/pytest "$@"
