"""An export storm by read-only tokens: exports past the limits are refused (429, Retry-After),
ingest and commands keep their latency, and a client that stops reading is dropped."""

import asyncio
import statistics
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.db import EXPORT_APPLICATION_NAME
from tests.api.conftest import TokenMaker
from tests.api.storm import (
    MODULES,
    STRINGS,
    StalledExport,
    export_params,
    fill_samples,
    open_stalled,
    read_body,
    timed_command,
    timed_ingest,
)
from tests.db import psycopg_dsn
from tests.factories import committed_device_site
from tests.server import LiveServer, live_server
from tests.wire import batch, full_site_rows, post_batch

STALL_S = 20.0  # opening twelve exports took over 8 s on a loaded machine, freeing a slot
PER_CALLER, TOTAL = 2, 4
SECONDS = 1800  # 30 modules x 30 min x 16 cells: some 860,000 lines of CSV per export
LIMITS = {
    "RIDETHROUGH_EXPORT_MAX_PER_CALLER": str(PER_CALLER),
    "RIDETHROUGH_EXPORT_MAX_CONCURRENT": str(TOTAL),
    "RIDETHROUGH_EXPORT_STALL_TIMEOUT_S": str(STALL_S),
    "RIDETHROUGH_DB_IDLE_IN_TRANSACTION_TIMEOUT_S": "30",
    # A small main pool, so that exports holding its connections would starve it at once.
    "RIDETHROUGH_DB_POOL_SIZE": "4",
}


@pytest.fixture(scope="module")
def storm_server(test_database_url: str) -> Iterator[tuple[LiveServer, Path]]:
    """A backend with small export limits, its log kept in a file."""
    with tempfile.TemporaryDirectory() as folder:
        log_path = Path(folder) / "server.log"
        with (
            log_path.open("wb") as log,
            live_server(
                {"RIDETHROUGH_DATABASE_URL": test_database_url, **LIMITS}, log=log
            ) as running,
        ):
            yield running, log_path


def export_connections(dsn: str) -> list[str]:
    """The states of the backend's export connections."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT state FROM pg_stat_activity WHERE application_name = %s",
            (EXPORT_APPLICATION_NAME,),
        ).fetchall()
    return [row[0] for row in rows]


async def ingest_and_command(
    server: LiveServer, code: str, token: str, seq: int, string: int
) -> tuple[list[tuple[int, float]], tuple[int, float]]:
    """Five batches, one after another, then a command: their statuses and times."""
    async with httpx.AsyncClient(base_url=server.url) as edge, server.async_client() as operator:
        now = datetime.now(UTC)
        batches = [
            await timed_ingest(edge, code, token, seq + i, now - timedelta(seconds=5 - i))
            for i in range(5)
        ]
        return batches, await timed_command(operator, code, string)


async def test_an_export_storm_leaves_ingest_and_commands_running(
    engine: AsyncEngine, storm_server: tuple[LiveServer, Path], make_token: TokenMaker
) -> None:
    server, log_path = storm_server
    dsn = psycopg_dsn(server.database_url)
    site = await committed_device_site(engine, racks=STRINGS, modules_per_rack=MODULES)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    fill_samples(dsn, site.module_ids, start, SECONDS)
    body = batch(site.code, 1, **full_site_rows(datetime.now(UTC), STRINGS, MODULES))
    assert post_batch(server, site.token, body).status_code == 200  # state for interlocks
    tokens = [await make_token("read") for _ in range(3)]
    baseline, base_command = await ingest_and_command(server, site.code, site.token, 10, 1)

    path, params = f"/api/v1/sites/{site.code}/export", export_params(start, SECONDS)
    storm: list[list[StalledExport]] = []
    for token in tokens:  # one after another, so who is refused is known
        storm.append([await open_stalled(server.url, path, params, token) for _ in range(4)])
    statuses = [[e.status for e in mine] for mine in storm]
    assert statuses == [[200, 200, 429, 429], [200, 200, 429, 429], [429, 429, 429, 429]]
    refused = [e for mine in storm for e in mine if e.status == 429]
    assert all(e.headers["retry-after"].isdigit() for e in refused)
    per_caller, total = (
        (await read_body(storm[0][2])).decode(),
        (await read_body(storm[2][0])).decode(),
    )
    assert "RIDETHROUGH_EXPORT_MAX_PER_CALLER" in per_caller
    assert "RIDETHROUGH_EXPORT_MAX_CONCURRENT" in total

    # While four exports sit on unread data, the fleet goes on at its usual pace.
    during, storm_command = await ingest_and_command(server, site.code, site.token, 20, 2)
    assert [status for status, _ in during] == [200] * 5
    assert (base_command[0], storm_command[0]) == (201, 201)
    base = statistics.median(t for _, t in baseline)
    assert statistics.median(t for _, t in during) <= 3 * base + 1.0, (baseline, during)
    assert storm_command[1] <= 3 * base_command[1] + 1.0, (base_command, storm_command)
    async with httpx.AsyncClient(base_url=server.url) as probe:
        assert (await probe.get("/readyz")).status_code == 200
    # Busy export connections (the session's other backend may keep idle ones of its own).
    assert len([s for s in export_connections(dsn) if s != "idle"]) <= TOTAL

    # The stalled readers are dropped: their slots and connections come back.
    await asyncio.sleep(STALL_S + 2)
    again = await open_stalled(server.url, path, export_params(start, 60), tokens[0])
    assert again.status == 200
    assert (await again.read_to_end(30)).endswith(b"0\r\n\r\n")  # complete
    assert "idle in transaction" not in export_connections(dsn)
    for dropped in [storm[0][0], storm[0][1], storm[1][0], storm[1][1]]:
        cut = await dropped.read_to_end(60)
        assert not cut.endswith(b"0\r\n\r\n")  # ended by the server before the end
    for export in (e for mine in storm for e in mine):
        export.close()
    log = log_path.read_text()
    assert log.count("dropped a client that took no data") == 4
    assert "Traceback" not in log
    assert "without completing response" not in log
