"""Ingest and command latency during an export storm, against the same run's quiet baseline.

A 30-module site with an hour of raw samples a second. Baseline: ingest batches (the whole site
at one time each) and operator commands, one after another, with nothing else running. Storm:
three read-only tokens each open `--exports` exports of every cell voltage over that hour and
stop reading after the first bytes; the backend admits its limit (2 per token, 4 in all) and
refuses the rest with 429. The same batches and commands are then timed again. The figures
are the storm's p50 and p95 over the baseline's (1.0: no effect).
Run: .venv/bin/python -m bench.export_storm [--batches N]
"""

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from app.auth.permissions import Access
from app.auth.tokens import create_token
from bench.common import fresh_database, percentiles, run
from tests.api.storm import (
    MODULES,
    STRINGS,
    export_params,
    fill_samples,
    open_stalled,
    timed_ingest,
)
from tests.db import psycopg_dsn
from tests.factories import committed_device_site
from tests.server import LiveServer, live_server
from tests.signin import ensure_user

SECONDS = 3600


async def fleet_latencies(
    server: LiveServer, code: str, token: str, first_seq: int, batches: int
) -> tuple[list[float], list[float]]:
    """Milliseconds per ingest batch and per command (derates on alternating strings)."""
    ingest, commands = [], []
    async with httpx.AsyncClient(base_url=server.url) as edge, server.async_client() as operator:
        for i in range(batches):
            ts = datetime.now(UTC) - timedelta(seconds=1)
            status, taken = await timed_ingest(edge, code, token, first_seq + i, ts)
            assert status == 200, status
            ingest.append(taken * 1000)
            commands.append(await command_then_cancel(operator, code))
    return ingest, commands


async def command_then_cancel(operator: httpx.AsyncClient, code: str) -> float:
    """Milliseconds to queue a derate; then it is cancelled, so the next one is not refused."""
    body = {"kind": "derate", "string": 1, "pct": 50, "reason": "maintenance", "note": "bench"}
    began = time.perf_counter()
    answer = await operator.post(f"/api/v1/sites/{code}/commands", json=body, timeout=60)
    taken = time.perf_counter() - began
    assert answer.status_code == 201, answer.text
    cancel = f"/api/v1/sites/{code}/commands/{answer.json()['id']}/cancel"
    assert (await operator.post(cancel, timeout=60)).is_success
    return taken * 1000


async def storm(server: LiveServer, exports: int, batches: int) -> dict[str, float]:
    """Baseline, then the same under the storm; the ratios."""
    engine = create_async_engine(server.database_url)
    site = await committed_device_site(engine, racks=STRINGS, modules_per_rack=MODULES)
    tokens = [await _read_token(engine, n) for n in range(3)]
    await engine.dispose()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    fill_samples(psycopg_dsn(server.database_url), site.module_ids, start, SECONDS)
    await fleet_latencies(server, site.code, site.token, 1, 3)  # warm up
    base_ingest, base_commands = await fleet_latencies(server, site.code, site.token, 10, batches)
    path, params = f"/api/v1/sites/{site.code}/export", export_params(start, SECONDS)
    opened = [
        await open_stalled(server.url, path, params, t) for t in tokens for _ in range(exports)
    ]
    during_ingest, during_commands = await fleet_latencies(
        server, site.code, site.token, 10 + batches, batches
    )
    admitted = sum(e.status == 200 for e in opened)
    for export in opened:
        export.close()
    (b50, b95), (s50, s95) = percentiles(base_ingest), percentiles(during_ingest)
    return {
        "admitted": admitted,
        "refused": len(opened) - admitted,
        "ingest_p50": s50 / b50,
        "ingest_p95": s95 / b95,
        "command_median": statistics.median(during_commands) / statistics.median(base_commands),
    }


async def _read_token(engine: AsyncEngine, n: int) -> str:
    async with AsyncSession(engine) as session, session.begin():
        return await create_token(
            session,
            name=f"bench-read-{n}",
            access=Access.READ,
            site_codes=None,
            days=1,
            created_by="bench",
            now=datetime.now(UTC),
        )


def main() -> None:
    """Run the storm and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--exports", type=int, default=4, help="exports opened per token")
    parser.add_argument("--batches", type=int, default=30, help="timed batches per phase")
    args = parser.parse_args()
    url = fresh_database()
    ensure_user(psycopg_dsn(url), "operator")
    with live_server({"RIDETHROUGH_DATABASE_URL": url}) as server:
        result = run(storm(server, args.exports, args.batches))
    print(
        f"exports opened: {result['admitted'] + result['refused']:.0f}, admitted "
        f"{result['admitted']:.0f}, refused with 429 {result['refused']:.0f}"
    )
    print(
        f"ingest latency during the storm / quiet baseline: p50 {result['ingest_p50']:.2f}x, "
        f"p95 {result['ingest_p95']:.2f}x"
    )
    print(
        f"command latency during the storm / quiet baseline (median): "
        f"{result['command_median']:.2f}x"
    )


if __name__ == "__main__":
    main()
