#!/usr/bin/env bash
# The project-local TimescaleDB cluster: data under .data/pg, its own port, started on demand.
# Usage: scripts/db.sh start|stop|crash-restart|status|url|psql [args]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DATA="$ROOT/.data/pg"
SOCKET_DIR="$ROOT/.data/run"
LOG="$ROOT/.data/postgres.log"
PORT="${RIDETHROUGH_DB_PORT:-55432}"
DB_USER=ridethrough
DB_PASSWORD=ridethrough  # development-only cluster; listens on loopback only
DATABASES=(ridethrough)

# PostgreSQL refuses to run as root, so root runs the server as the 'postgres' system user.
run_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The server runs as 'postgres' when we are root, so it must be able to reach .data: grant
# traverse-only permission (o+x) on the parent folders that lack it, and say so.
ensure_traversable() {
    [ "$(id -u)" -eq 0 ] || return 0
    local dir="$ROOT"
    while [ "$dir" != "/" ]; do
        if [ "$(( $(stat -c '%a' "$dir") % 2 ))" -eq 0 ]; then
            echo "granting traverse permission (o+x) on $dir so the postgres user can reach .data"
            chmod o+x "$dir"
        fi
        dir=$(dirname "$dir")
    done
}

# The port is given at each start (not only at initdb), so RIDETHROUGH_DB_PORT also moves an
# existing cluster.
pg_start() { run_pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$LOG" -o "-p $PORT" -w -t 60 start >/dev/null; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

running() { [ -f "$DATA/postmaster.pid" ] && run_pg "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

init_cluster() {
    step "creating the local database cluster in .data/pg (port $PORT)"
    mkdir -p "$DATA" "$SOCKET_DIR"
    if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$ROOT/.data"; fi
    run_pg "$PG_BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 >"$ROOT/.data/initdb.log" 2>&1 \
        || fail "initdb failed" "see .data/initdb.log; delete .data/pg to start over"
    cat >>"$DATA/postgresql.conf" <<CONF
# --- Ridethrough local cluster ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCKET_DIR'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
max_connections = 200
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 256MB
synchronous_commit = off
max_wal_size = 4GB
CONF
}

start() {
    bash "$ROOT/scripts/install-timescaledb.sh"
    ensure_traversable
    [ -f "$DATA/PG_VERSION" ] || init_cluster
    if running; then
        echo "database already running on port $PORT"
    else
        port_in_use && fail "port $PORT is taken by another process (another checkout's database?)" \
            "stop it, or choose another port: RIDETHROUGH_DB_PORT=55433 make ..."
        step "starting the database (port $PORT, log .data/postgres.log)"
        pg_start \
            || fail "the database did not start" "see .data/postgres.log"
    fi
    provision
}

provision() {
    # Role and databases are created once; the statements are no-ops afterwards.
    psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'" | grep -q 1 \
        || psql_admin -c "CREATE ROLE $DB_USER LOGIN SUPERUSER PASSWORD '$DB_PASSWORD'" >/dev/null
    for db in "${DATABASES[@]}"; do
        psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
            || psql_admin -c "CREATE DATABASE $db OWNER $DB_USER" >/dev/null
        psql_admin -d "$db" -c "CREATE EXTENSION IF NOT EXISTS timescaledb" >/dev/null 2>&1 \
            || fail "could not create the timescaledb extension in $db" "see .data/postgres.log"
    done
}

psql_admin() { run_pg "$PG_BIN/psql" -h "$SOCKET_DIR" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -q "$@"; }

stop() {
    if running; then
        step "stopping the database"
        run_pg "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    else
        echo "database not running"
    fi
}

crash_restart() {
    # Immediate shutdown (no checkpoint, clients cut off, crash recovery on start): what a
    # power cut or an OOM kill of the server does. The fault-injection tests use it.
    running || fail "the database is not running" "start it first: bash scripts/db.sh start"
    step "crashing and restarting the database"
    run_pg "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null
    pg_start \
        || fail "the database did not come back" "see .data/postgres.log"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    crash-restart) crash_restart ;;
    status) if running; then echo "running on port $PORT"; else echo "stopped"; exit 3; fi ;;
    psql) shift; psql_admin -d ridethrough "$@" ;;
    url) echo "postgresql+psycopg://$DB_USER:$DB_PASSWORD@127.0.0.1:$PORT/ridethrough" ;;
    *) echo "usage: $0 start|stop|crash-restart|status|psql|url" >&2; exit 2 ;;
esac
