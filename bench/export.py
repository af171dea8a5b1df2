"""Telemetry export through a real backend: memory stays bounded however long the export is.

A 512-module site (16 strings x 32) with two hours of raw samples at 5 s (737,280 module
samples). Exported in the long format with soc_pct and the 16 cell voltages: 17 values a sample,
12.5 million rows, as CSV, NDJSON and Parquet, plus the wide CSV. While each export streams, the
backend's resident memory is sampled every 20 ms; the figure is its peak growth over the idle
process. Same-run baselines: the same rows read through a server-side cursor with no formatting
(rows/s: the database's own pace), and a 10x shorter export (memory: bounded means no growth).
Target (issue #7): a 10-million-row export needs no more than about 200 MB.
Run: .venv/bin/python -m bench.export [--small]
"""

import argparse
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow.parquet as pq
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.telemetry.export_query import Entity, Resolution, Selection, parameters, statement
from bench.common import big_site_config, create_site, fresh_database, run
from bench.queries import PATTERNS, RAW_HOUR
from tests.server import live_server

# Recent, whatever the date: the backend's retention job drops raw data past its age (30 days),
# and a fixed date once drifted past it, leaving nothing to export.
START = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
FIELDS = "soc_pct,cell_v"
# Exported rows per module sample: long has one per value (soc_pct and 16 cells), wide one.
PER_SAMPLE = {"long": 1 + 16, "wide": 1}


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


class PeakRss:
    """Samples a process's resident memory in the background; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.running = pid, rss_mb(pid), True
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> "PeakRss":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.running = False
        self.thread.join()


async def generate(url: str, site_id: int, hours: int) -> int:
    """Raw module samples at 5 s for `hours`; returns how many."""
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(PATTERNS)
        for hour in range(hours):
            params = {
                "start": START + timedelta(hours=hour),
                "step": timedelta(seconds=5),
                "site": site_id,
            }
            await conn.execute(RAW_HOUR, params)
        count = (await conn.execute(text("SELECT count(*) FROM module_sample"))).scalar_one()
    await engine.dispose()
    return int(count)


async def cursor_rows_per_s(url: str, selection: Selection) -> float:
    """The baseline: the export's rows read through a server-side cursor, nothing else."""
    engine = create_async_engine(url)
    began, rows = time.perf_counter(), 0
    async with engine.connect() as conn:
        result = await conn.stream(
            statement(selection, paged=False), parameters(selection, after=None, limit=None)
        )
        async for chunk in result.partitions(20_000):
            rows += len(chunk)
    await engine.dispose()
    return rows / (time.perf_counter() - began)


def download(client: httpx.Client, path: str, params: dict[str, str], target: Path) -> float:
    """Stream one export to a file; returns the seconds it took."""
    began = time.perf_counter()
    with client.stream("GET", path, params=params, timeout=600) as answer:
        answer.raise_for_status()
        with target.open("wb") as out:
            for chunk in answer.iter_bytes(1 << 20):
                out.write(chunk)
    return time.perf_counter() - began


def count_rows(fmt: str, target: Path) -> int:
    """Data rows in an exported file."""
    if fmt == "parquet":
        return int(pq.ParquetFile(target).metadata.num_rows)
    with target.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b"")) - (
            1 if fmt == "csv" else 0
        )


def main() -> None:
    """Export the generated range in every format; print rows, time and memory growth."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="32 modules, 2 h (a quick check)")
    args = parser.parse_args()
    strings, hours = (1, 2) if args.small else (16, 2)
    url = fresh_database()
    config = big_site_config("bench-export", strings, 32)
    site, _ = run(create_site(url, config))
    samples = run(generate(url, site.site_id, hours))
    end = START + timedelta(hours=hours)
    selection = Selection(
        site_id=site.site_id,
        entity=Entity.MODULE,
        resolution=Resolution.RAW,
        fields=("soc_pct", "cell_v"),
        start=START,
        end=end,
    )
    baseline = run(cursor_rows_per_s(url, selection))
    print(
        f"{samples:,} module samples; baseline (server-side cursor, no formatting): "
        f"{baseline:,.0f} samples/s"
    )
    env = {"RIDETHROUGH_DATABASE_URL": url, "RIDETHROUGH_LOG_LEVEL": "WARNING"}
    with (
        tempfile.TemporaryDirectory() as tmp,
        live_server(env, options=("--no-access-log",)) as server,
    ):
        client = server.client("viewer")
        path = f"/api/v1/sites/{config.code}/export"
        window = {"start": START.isoformat(), "fields": FIELDS}
        tenth = START + (end - START) / 10
        runs = [
            ("csv", "long", tenth),
            ("csv", "long", end),
            ("ndjson", "long", end),
            ("parquet", "long", end),
            ("csv", "wide", end),
        ]
        for fmt, layout, until in runs:
            idle = rss_mb(server.process.pid)
            target = Path(tmp) / f"export.{fmt}"
            params = {**window, "end": until.isoformat(), "format": fmt, "layout": layout}
            with PeakRss(server.process.pid) as peak:
                seconds = download(client, path, params, target)
            rows = count_rows(fmt, target)
            share = (until - START) / (end - START)
            expected = round(samples * share) * PER_SAMPLE[layout]
            if rows != expected:
                raise SystemExit(f"{fmt} {layout}: {rows:,} rows exported, {expected:,} stored")
            rate = samples * share / seconds
            print(
                f"{fmt:7} {layout:4} {rows:>12,} rows  {target.stat().st_size / 1e6:8.1f} MB  "
                f"{seconds:6.1f} s  {rate:>9,.0f} samples/s = {rate / baseline:.2f}x baseline  "
                f"memory +{peak.peak - idle:.0f} MB (peak {peak.peak:.0f} MB)"
            )


if __name__ == "__main__":
    main()
