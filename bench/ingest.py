"""Ingest throughput through a running server, against raw binary COPY of the same rows.

Each round measures, one after the other on the same database and hypertable, each on rows of
its own time range and after a CHECKPOINT:
1. raw: psycopg binary COPY of the same shape of module rows straight into module_sample, as
   one COPY of every row, and as one COPY + commit per site batch (the database's ceiling);
2. ingest: gzip JSON batches POSTed to /api/v1/ingest by several sites at once, each site one
   batch at a time in time order as an edge sends them (validation, idempotency, latest-state
   update, rollup queue and NOTIFY all on).
The machine is shared and noisy, so the rounds interleave the paths and the medians are
reported. Run: .venv/bin/python -m bench.ingest [--sites N] [--rounds N] [--batches N]
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
                    list[float | None](cells),
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


@dataclass(frozen=True)
class Round:
    """One round's three measurements, taken one after the other."""

    raw: Measurement
    raw_batches: Measurement
    http: Measurement


def checkpoint(url: str) -> None:
    """Write out dirty pages now, so that no checkpoint falls inside the next measurement."""
    with psycopg.connect(psycopg_dsn(url), autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def measure_round(
    url: str,
    server_url: str,
    ids: list[int],
    sites: list[tuple[str, list[bytes]]],
    *,
    modules: int,
    batches: int,
    start: datetime,
) -> Round:
    """Raw COPY as one stream, raw COPY per batch, then HTTP ingest, each on its own rows."""
    checkpoint(url)
    raw = raw_copy(
        url, ids, batches, start + timedelta(hours=1), per_batch=False, batch_rows=modules
    )
    checkpoint(url)
    raw_batches = raw_copy(
        url, ids, batches, start + timedelta(hours=2), per_batch=True, batch_rows=modules
    )
    checkpoint(url)
    return Round(raw, raw_batches, ingest(server_url, sites, modules))


def median_round(rounds: list[Round], key: str) -> Measurement:
    """The round's measurement of `key` with the median rate."""
    ordered = sorted((getattr(r, key) for r in rounds), key=lambda m: m.rate)
    return ordered[len(ordered) // 2]  # type: ignore[no-any-return]


def report(rounds: list[Round], *, sites: int, modules: int, batches: int, workers: int) -> None:
    """Each round's rates, then the medians, the CPU split and the ratios."""
    print(
        f"{sites} sites x {modules} modules x {CELLS} cells, {batches} batches of one second "
        f"each per site, each site one upload at a time; {workers} backend workers; "
        f"{len(rounds)} rounds"
    )
    for n, r in enumerate(rounds, 1):
        print(
            f"round {n}: raw COPY one stream {r.raw.rate:>9,.0f}  per batch "
            f"{r.raw_batches.rate:>9,.0f}  HTTP ingest {r.http.rate:>9,.0f} module-samples/s "
            f"(ingest / per batch {r.http.rate / r.raw_batches.rate:.2f}x)"
        )
    raw, raw_batches, http = (median_round(rounds, k) for k in ("raw", "raw_batches", "http"))
    print("medians:")
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
    print(
        f"ingest CPU-ms per 1,000 samples by process: PostgreSQL {split['postgres']:.1f}, "
        f"backend {split['others']:.1f} (with anything else running), "
        f"HTTP client {split['this process']:.1f}; raw COPY per batch: PostgreSQL "
        f"{raw_batches.by_process['postgres'] * 1e6 / raw_batches.samples:.1f}"
    )
    print(
        f"ingest / raw COPY per batch (same batches, one COPY + commit each) = "
        f"{http.rate / raw_batches.rate:.2f}x  (target >= 0.60x)"
    )
    print(
        f"ingest / raw COPY one stream (every row in one COPY)            = "
        f"{http.rate / raw.rate:.2f}x"
    )
    print(
        "CPU cost per sample, ingest / raw COPY (per batch) = "
        f"{http.cpu_ms_per_1000 / raw_batches.cpu_ms_per_1000:.1f}x"
    )


def main() -> None:
    """Set up, measure both paths in rounds, print rates and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strings", type=int, default=63)
    parser.add_argument("--modules-per-string", type=int, default=32)
    parser.add_argument("--batches", type=int, default=41, help="per site and round")
    parser.add_argument("--sites", type=int, default=4, help="sites uploading at once")
    # Five: on a shared two-core machine single rounds range over about ±0.08x of the ratio.
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="backend worker processes")
    args = parser.parse_args()
    url = fresh_database()
    modules = args.strings * args.modules_per_string
    start = datetime.now(UTC) - timedelta(hours=3 * args.rounds + 1)
    configs = [
        big_site_config(f"bench-ingest-{n}", args.strings, args.modules_per_string)
        for n in range(1, args.sites + 1)
    ]
    tokens = [run(create_site(url, config))[1] for config in configs]
    with psycopg.connect(psycopg_dsn(url)) as conn:
        ids = [i for (i,) in conn.execute("SELECT id FROM module ORDER BY id")]
    env = {
        "RIDETHROUGH_DATABASE_URL": url,
        "RIDETHROUGH_JOBS_ENABLED": "false",
        "RIDETHROUGH_LOG_LEVEL": "WARNING",
    }
    rounds = []
    # As `make run` serves: no access log line per request.
    with live_server(env, workers=args.workers, options=("--no-access-log",)) as server:
        for n in range(args.rounds):
            begin = start + timedelta(hours=3 * n)
            sites = [
                (
                    token,
                    build_bodies(
                        config.code, args.strings, args.modules_per_string, args.batches, begin
                    ),
                )
                for config, token in zip(configs, tokens, strict=True)
            ]
            rounds.append(
                measure_round(
                    url,
                    server.url,
                    ids,
                    sites,
                    modules=modules,
                    batches=args.batches - 1,
                    start=begin,
                )
            )
    report(
        rounds, sites=args.sites, modules=modules, batches=args.batches - 1, workers=args.workers
    )


if __name__ == "__main__":
    main()
