#!/usr/bin/env bash
# Bring the whole system up: database, migrations, demo fleet, backend and simulated sites
# streaming through the real CAN -> edge -> HTTP path. Ctrl-C stops what it started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

HOST="${RIDETHROUGH_HOST:-127.0.0.1}"
PORT="${RIDETHROUGH_PORT:-8000}"
backend_pid=""
edge_pids=()
db_was_running=""
# Stopping, an edge sends what it still holds for at most this long; whatever is left stays in
# its spool on disk and goes at the next start. (Ctrl-C reaches every process at once, so the
# backend may already be gone: a short wait keeps the stop quick.)
EDGE_DRAIN_S=5

stop_and_wait() {
    local pid
    for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
    for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

cleanup() {
    trap - INT TERM EXIT
    echo
    step "stopping"
    # Edges first, so that their last batches reach a backend that is still up.
    [ "${#edge_pids[@]}" -gt 0 ] && stop_and_wait "${edge_pids[@]}"
    [ -n "$backend_pid" ] && stop_and_wait "$backend_pid"
    [ -z "$db_was_running" ] && bash scripts/db.sh stop
    exit 0
}

port_free() { ! (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

bash scripts/setup.sh
port_free || fail "port $PORT on $HOST is already in use" "stop the other process or run: RIDETHROUGH_PORT=8001 make run"
bash scripts/db.sh status >/dev/null 2>&1 && db_was_running=1
bash scripts/db.sh start
trap cleanup INT TERM EXIT
export RIDETHROUGH_DATABASE_URL="${RIDETHROUGH_DATABASE_URL:-$(bash scripts/db.sh url)}"

step "migrating the database"
.venv/bin/alembic upgrade head 2>&1 | grep -v "^INFO  \[alembic.runtime.migration\] \(Context\|Will assume\)" || true
step "seeding the demo fleet"
.venv/bin/python -m app seed-demo

step "starting the backend on http://$HOST:$PORT"
.venv/bin/python -m app serve --host "$HOST" --port "$PORT" --no-access-log &
backend_pid=$!
for _ in $(seq 1 100); do
    curl -fs "http://$HOST:$PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fs "http://$HOST:$PORT/readyz" >/dev/null || fail "the backend did not become ready" "see its log above"

# One simulated site per edge process, streaming through the real path:
# simulated BMS -> python-can virtual bus -> edge decode/assembly -> spool -> HTTP ingest.
mkdir -p .data/logs .data/edge
for site_file in edge/sites/*.toml; do
    code=$(basename "$site_file" .toml)
    token=$(.venv/bin/python -m app create-edge-device --site "$code" --name demo-edge --rotate 2>/dev/null) \
        || fail "could not issue an edge token for $code"
    step "streaming simulated site $code (log .data/logs/edge-$code.log)"
    RIDETHROUGH_EDGE_BACKEND_URL="http://$HOST:$PORT" RIDETHROUGH_EDGE_TOKEN="$token" \
        RIDETHROUGH_EDGE_SPOOL_PATH=".data/edge/$code.sqlite3" RIDETHROUGH_EDGE_DRAIN_TIMEOUT_S="$EDGE_DRAIN_S" \
        .venv/bin/python -m edge simulate --config "$site_file" >".data/logs/edge-$code.log" 2>&1 &
    edge_pids+=($!)
done

# One demo user per role, with a fresh password each run (printed below, stored nowhere else).
declare -A passwords
for role in viewer technician operator admin; do
    passwords[$role]=$(.venv/bin/python -m app create-user --username "$role" --role "$role" 2>/dev/null) \
        || fail "could not create the demo user $role"
done

cat <<MSG

  Ridethrough is running:  http://$HOST:$PORT
  Readiness:               http://$HOST:$PORT/readyz
  API docs:                http://$HOST:$PORT/api/docs
  Simulated sites:         $(ls edge/sites/*.toml | xargs -n1 basename | sed 's/.toml//' | paste -sd' ')
  Sign in as (user / password, new each run):
      operator    ${passwords[operator]}
      technician  ${passwords[technician]}
      viewer      ${passwords[viewer]}
      admin       ${passwords[admin]}

  Press Ctrl-C to stop everything this command started.

MSG
wait
