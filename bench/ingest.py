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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from app.telemetry.copy_binary import module_samples_copy_data
from app.telemetry.module_block import ModuleSamples
from app.telemetry.schemas import MODULE_SAMPLE_COLUMNS, ModuleSampleRow
from bench.common import (
    big_site_config,
    cpu_busy_s,
    cpu_by_process_s,
    create_site,
    fresh_database,
    run,
)
from tests.db import psycopg_dsn
from tests.server import live_server
from tests.wire import iso, module_row, string_row

CELLS = 16


def site_batch(
    code: str, strings: int, modules: int, *, edge_id: str, seq: int, ts: datetime
) -> dict[str, Any]:
    """A wire batch with one sample of every module and string of the site at `ts`."""
    return {
        "schema": "ridethrough.telemetry.v1",
        "edge_id": edge_id,
        "seq": seq,
        "site": code,
        "created_at": iso(ts),
        "software_version": "bench",
        "counters": {},
        "modules": [
            module_row(
                s, m, ts, cell_v=[round(3.28 + ((s * m + i) % 17) / 1000, 3) for i in range(CELLS)]
            )
            for s in range(1, strings + 1)
            for m in range(1, modules + 1)
        ],
        "strings": [string_row(s, ts) for s in range(1, strings + 1)],
        "events": [],
    }


def build_bodies(
    code: str, strings: int, modules: int, batches: int, start: datetime
) -> list[bytes]:
    """One gzip batch per second with every module and string of the site."""
    edge_id = str(uuid.uuid4())
    return [
        gzip.compress(
            json.dumps(
                site_batch(
                    code,
                    strings,
                    modules,
                    edge_id=edge_id,
                    seq=seq,
                    ts=start + timedelta(seconds=seq),
                )
            ).encode(),
            5,
        )
        for seq in range(1, batches + 1)
    ]


@dataclass(frozen=True)
class Measurement:
    """A path's throughput and what it cost the machine in CPU time."""

    samples: int
    wall_s: float
    cpu_s: float
    by_process: dict[str, float]  # CPU seconds: postgres, this process, others

    @property
    def rate(self) -> float:
        """Module samples per second."""
        return self.samples / self.wall_s

    @property
    def cpu_ms_per_1000(self) -> float:
        """CPU milliseconds (all processes, all cores) per 1,000 module samples."""
        return self.cpu_s * 1e6 / self.samples


@contextmanager
def measured(samples: int, out: list[Measurement]) -> Iterator[None]:
    """Time a block on the wall clock and on the machine's CPU counters."""
    wall, cpu, by_process = time.perf_counter(), cpu_busy_s(), cpu_by_process_s()
    yield
    spent = {name: s - by_process[name] for name, s in cpu_by_process_s().items()}
    out.append(Measurement(samples, time.perf_counter() - wall, cpu_busy_s() - cpu, spent))


def raw_copy(
    url: str,
    module_ids: list[int],
    batches: int,
    start: datetime,
    *,
    per_batch: bool,
    batch_rows: int,
) -> Measurement:
    """A bare binary COPY of the same shape of rows: one stream, or one COPY + commit per batch
    of `batch_rows` (one site's batch).

    The COPY streams are built before the clock starts, with the same encoder ingest uses, so
    this is the ceiling: the database's COPY rate into the hypertable.
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
    size = batch_rows if per_batch else len(rows)
    streams = [
        module_samples_copy_data(ModuleSamples.of_rows(rows[i : i + size]))
        for i in range(0, len(rows), size)
    ]
    statement = (
        f"COPY module_sample ({', '.join(MODULE_SAMPLE_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    )
    result: list[Measurement] = []
    with psycopg.connect(psycopg_dsn(url)) as conn, measured(len(rows), result):
        for data in streams:
            with conn.cursor() as cur, cur.copy(statement) as copy:
                copy.write(data)
            conn.commit()
    return result[0]


def ingest(base_url: str, sites: list[tuple[str, list[bytes]]], modules: int) -> Measurement:
    """Module rows per second through the HTTP ingest endpoint from several sites at once.

    Each site is an edge: its batches go in time order, one in flight at a time.
    """

    async def upload(client: httpx.AsyncClient, token: str, body: bytes) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        answer: dict[str, Any] = (
            await client.post("/api/v1/ingest", content=body, headers=headers)
        ).json()
        assert answer["modules"]["stored"] == modules, answer

    async def edge(client: httpx.AsyncClient, token: str, bodies: list[bytes]) -> None:
        for body in bodies:
            await upload(client, token, body)

    async def send_all() -> Measurement:
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=120) as client:
            for token, bodies in sites:
                await upload(client, token, bodies[0])  # warm-up
            result: list[Measurement] = []
            samples = sum(len(bodies) - 1 for _, bodies in sites) * modules
            with measured(samples, result):
                await asyncio.gather(*(edge(client, t, bodies[1:]) for t, bodies in sites))
            return result[0]

    measurement: Measurement = asyncio.run(send_all())
    return measurement


def main() -> None:
    """Set up, measure both paths, print rates and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strings", type=int, default=63)
    parser.add_argument("--modules-per-string", type=int, default=32)
    parser.add_argument("--batches", type=int, default=41, help="per site")
    parser.add_argument("--sites", type=int, default=2, help="sites uploading at once")
    parser.add_argument("--workers", type=int, default=2, help="backend worker processes")
    args = parser.parse_args()
    url = fresh_database()
    modules = args.strings * args.modules_per_string
    start = datetime.now(UTC) - timedelta(hours=2)
    sites = []
    for n in range(1, args.sites + 1):
        config = big_site_config(f"bench-ingest-{n}", args.strings, args.modules_per_string)
        _, token = run(create_site(url, config))
        bodies = build_bodies(config.code, args.strings, args.modules_per_string, args.batches,
                              start)  # fmt: skip
        sites.append((token, bodies))
    with psycopg.connect(psycopg_dsn(url)) as conn:
        ids = [i for (i,) in conn.execute("SELECT id FROM module ORDER BY id")]
    raw = raw_copy(url, ids, args.batches - 1, start - timedelta(hours=1), per_batch=False,
                   batch_rows=modules)  # fmt: skip
    raw_batches = raw_copy(url, ids, args.batches - 1, start - timedelta(hours=3),
                           per_batch=True, batch_rows=modules)  # fmt: skip
    env = {
        "RIDETHROUGH_DATABASE_URL": url,
        "RIDETHROUGH_JOBS_ENABLED": "false",
        "RIDETHROUGH_LOG_LEVEL": "WARNING",
    }
    # As `make run` serves: no access log line per request.
    with live_server(env, workers=args.workers, options=("--no-access-log",)) as server:
        http = ingest(server.url, sites, modules)
    print(
        f"{args.sites} sites x {modules} modules x {CELLS} cells, {args.batches - 1} batches of "
        f"one second each per site, each site one upload at a time; {args.workers} backend "
        "workers"
    )
    paths = (
        ("raw COPY, one stream:", raw),
        ("raw COPY per batch:", raw_batches),
        ("HTTP ingest (full):", http),
    )
    for label, m in paths:
        print(
            f"{label:<22} {m.rate:>9,.0f} module-samples/s {m.rate * CELLS:>11,.0f} cell-voltages/s"
            f"  {m.cpu_ms_per_1000:6.1f} CPU-ms per 1,000 samples"
        )
    split = {name: s * 1e6 / http.samples for name, s in http.by_process.items()}
    print(f"ingest CPU-ms per 1,000 samples by process: PostgreSQL {split['postgres']:.1f}, "
          f"backend {split['others']:.1f} (with anything else running), "
          f"HTTP client {split['this process']:.1f}; raw COPY per batch: PostgreSQL "
          f"{raw_batches.by_process['postgres'] * 1e6 / raw_batches.samples:.1f}")  # fmt: skip
    print(f"ingest / raw COPY (one stream) = {http.rate / raw.rate:.2f}x  (target >= 0.60x)")
    print(f"ingest / raw COPY (per batch)  = {http.rate / raw_batches.rate:.2f}x")
    print(
        "CPU cost per sample, ingest / raw COPY (per batch) = "
        f"{http.cpu_ms_per_1000 / raw_batches.cpu_ms_per_1000:.1f}x"
    )


if __name__ == "__main__":
    main()
