#!/usr/bin/env bash
# Every benchmark, with its figures written into docs/BENCHMARKS.md (`make bench`).
# Arguments go to bench.publish: --quick for small sizes, --only NAME to re-run some.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

bash scripts/setup.sh
use_project_database
step "benchmarks (about 40 minutes at full size)"
.venv/bin/python -m bench.publish "$@"
