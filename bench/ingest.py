"""Ingest throughput through a running server, against raw binary COPY of the same rows.

Both run in the same process tree on the same database and hypertable, one after the other:
1. raw: psycopg binary COPY of module rows straight into module_sample (the ceiling);
2. ingest: gzip JSON batches POSTed to /api/v1/ingest (validation, idempotency, latest-state
   upsert, rollup queue and NOTIFY all on).
Run: .venv/bin/python -m bench.ingest [--batches N] [--modules-per-string M]
"""

import argparse
import asyncio
import gzip
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from app.telemetry.copy_binary import module_rows_copy_data
from app.telemetry.schemas import MODULE_SAMPLE_COLUMNS, ModuleSampleRow
from bench.common import big_site_config, create_site, fresh_database, run
from tests.db import psycopg_dsn
from tests.server import live_server
from tests.wire import iso, module_row, string_row

CELLS = 16


def build_bodies(
    code: str, strings: int, modules: int, batches: int, start: datetime
) -> list[bytes]:
    """One gzip batch per second with every module and string of the site."""
    edge_id = str(uuid.uuid4())
    bodies = []
    for seq in range(1, batches + 1):
        ts = start + timedelta(seconds=seq)
        body = {
            "schema": "ridethrough.telemetry.v1",
            "edge_id": edge_id,
            "seq": seq,
            "site": code,
            "created_at": iso(ts),
            "software_version": "bench",
            "counters": {},
            "modules": [
                module_row(
                    s,
                    m,
                    ts,
                    cell_v=[round(3.28 + ((s * m + i) % 17) / 1000, 3) for i in range(CELLS)],
                )
                for s in range(1, strings + 1)
                for m in range(1, modules + 1)
            ],
            "strings": [string_row(s, ts) for s in range(1, strings + 1)],
            "events": [],
        }
        bodies.append(gzip.compress(json.dumps(body).encode(), 5))
    return bodies


def raw_copy_rate(
    url: str, module_ids: list[int], batches: int, start: datetime, *, per_batch: bool
) -> float:
    """Module rows per second of a bare binary COPY of the same shape of rows.

    The COPY stream is built before the clock starts, with the same encoder ingest uses, so this
    is the ceiling: the database's COPY rate into the hypertable.
    """
    rows = []
    for n in range(batches):
        ts = start + timedelta(seconds=n)
        for module_id in module_ids:
            cells = [round(3.28 + ((module_id + i) % 17) / 1000, 3) for i in range(CELLS)]
            rows.append(
                ModuleSampleRow(
                    module_id,
                    ts,
                    55.5,
                    98.0,
                    -40.0,
                    52.7,
                    cells,
                    min(cells),
                    max(cells),
                    round(sum(cells) / CELLS, 4),
                    cells.index(min(cells)),
                    cells.index(max(cells)),
                    [24.5, 25.0, 25.5, 24.0],
                    25.5,
                    0,
                    3,
                    0,
                    0,
                )
            )
    data = module_rows_copy_data(rows)
    statement = (
        f"COPY module_sample ({', '.join(MODULE_SAMPLE_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    )
    with psycopg.connect(psycopg_dsn(url)) as conn:
        begin = time.perf_counter()
        with conn.cursor() as cur, cur.copy(statement) as copy:
            copy.write(data)
        conn.commit()
        return len(rows) / (time.perf_counter() - begin)


def ingest_rate(
    base_url: str, token: str, bodies: list[bytes], modules: int, clients: int
) -> float:
    """Module rows per second through the HTTP ingest endpoint, `clients` requests at a time."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }

    async def send_all() -> float:
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=120) as client:
            (await client.post("/api/v1/ingest", content=bodies[0])).raise_for_status()  # warm-up
            queue = list(bodies[1:])

            async def worker() -> None:
                while queue:
                    answer: dict[str, Any] = (
                        await client.post("/api/v1/ingest", content=queue.pop())
                    ).json()
                    assert answer["modules"]["stored"] == modules, answer

            begin = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(clients)))
            return (len(bodies) - 1) * modules / (time.perf_counter() - begin)

    rate: float = asyncio.run(send_all())
    return rate


def main() -> None:
    """Set up, measure both paths, print rates and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strings", type=int, default=63)
    parser.add_argument("--modules-per-string", type=int, default=32)
    parser.add_argument("--batches", type=int, default=41)
    parser.add_argument("--workers", type=int, default=2, help="backend worker processes")
    parser.add_argument("--clients", type=int, default=2, help="concurrent uploads")
    args = parser.parse_args()
    url = fresh_database()
    config = big_site_config("bench-ingest", args.strings, args.modules_per_string)
    _, token = run(create_site(url, config))
    modules = args.strings * args.modules_per_string
    with psycopg.connect(psycopg_dsn(url)) as conn:
        ids = [i for (i,) in conn.execute("SELECT id FROM module ORDER BY id")]
    start = datetime.now(UTC) - timedelta(hours=2)
    bodies = build_bodies(config.code, args.strings, args.modules_per_string, args.batches, start)
    raw = raw_copy_rate(url, ids, args.batches - 1, start - timedelta(hours=1), per_batch=False)
    raw_batches = raw_copy_rate(
        url, ids, args.batches - 1, start - timedelta(hours=3), per_batch=True
    )
    env = {
        "RIDETHROUGH_DATABASE_URL": url,
        "RIDETHROUGH_JOBS_ENABLED": "false",
        "RIDETHROUGH_LOG_LEVEL": "WARNING",
    }
    with live_server(env, workers=args.workers) as server:
        ingest = ingest_rate(server.url, token, bodies, modules, args.clients)
    print(
        f"site: {modules} modules x {CELLS} cells, {args.batches - 1} batches of one second "
        f"each; {args.workers} backend workers, {args.clients} concurrent uploads"
    )
    rates = (
        ("raw COPY, one stream:", raw),
        ("raw COPY per batch:", raw_batches),
        ("HTTP ingest (full):", ingest),
    )
    for label, rate in rates:
        print(
            f"{label:<20} {rate:>10,.0f} module-samples/s  {rate * CELLS:>12,.0f} cell-voltages/s"
        )
    print(f"ingest / raw COPY (one stream) = {ingest / raw:.2f}x  (target >= 0.60x)")
    print(f"ingest / raw COPY (per batch)  = {ingest / raw_batches:.2f}x")


if __name__ == "__main__":
    main()
