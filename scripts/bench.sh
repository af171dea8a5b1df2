#!/usr/bin/env bash
# Every benchmark, with its figures written into docs/BENCHMARKS.md (`make bench`).
# Arguments go to bench.publish: --quick for small sizes, --only NAME to re-run some.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

bash scripts/setup.sh
db_was_running=""
bash scripts/db.sh status >/dev/null 2>&1 && db_was_running=1
bash scripts/db.sh start
[ -z "$db_was_running" ] && trap 'bash scripts/db.sh stop' EXIT
export RIDETHROUGH_TEST_DATABASE_URL="${RIDETHROUGH_TEST_DATABASE_URL:-$(bash scripts/db.sh url)}"
step "benchmarks (about 40 minutes at full size)"
.venv/bin/python -m bench.publish "$@"
