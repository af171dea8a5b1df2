"""Retention: drop raw chunks past their age with drop_chunks; rollups are kept longer.

Chunks are dropped oldest first, a bounded number per transaction: dropping one locks the chunk,
its indexes and constraints until commit, and thousands at once (a batch with weekly timestamps
made 3,000) exceed the server's lock table ("out of shared memory").
"""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# One retention run at a time across every app process: drop_chunks takes heavy locks.
RETENTION_LOCK_KEY = 0x52_54_52_45  # "RTRE"

RAW_TABLES = ("module_sample", "rack_sample", "system_sample")
ROLLUP_TABLES = ("module_sample_1m", "rack_sample_1m")
# The background job's steps, each in its own transaction: one that held one hypertable's
# locks while waiting for the next deadlocked with ingest (found by bench/load.py).
STEPS = (*RAW_TABLES, *ROLLUP_TABLES, "rollup_dirty")


@dataclass(frozen=True)
class RetentionResult:
    """Chunks dropped per table, or skipped when another process holds the lock."""

    dropped: dict[str, int]
    skipped: bool = False


async def apply_retention(
    session: AsyncSession,
    *,
    raw_age: timedelta,
    rollup_age: timedelta,
    only: str | None = None,
    max_chunks: int | None = None,
) -> RetentionResult:
    """Drop chunks entirely older than the configured ages (idempotent); `only` limits the run
    to one table (or "rollup_dirty"), and `max_chunks` to that many per table, oldest first,
    which is how the background job runs it."""
    locked = await session.execute(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RETENTION_LOCK_KEY}
    )
    if not locked.scalar():
        return RetentionResult({}, skipped=True)
    dropped = {}
    for tables, age in ((RAW_TABLES, raw_age), (ROLLUP_TABLES, rollup_age)):
        for table in tables:
            if only in (None, table):
                dropped[table] = await _drop_chunks(session, table, age, max_chunks)
    if only in (None, "rollup_dirty"):
        await session.execute(
            text("DELETE FROM rollup_dirty WHERE bucket < now() - CAST(:age AS interval)"),
            {"age": f"{raw_age.total_seconds()} seconds"},
        )
    return RetentionResult(dropped)


# The n-th oldest chunk's end: dropping what ends by then drops those n chunks and no more.
NTH_CHUNK_END = """
(SELECT range_end FROM timescaledb_information.chunks
 WHERE hypertable_schema = 'public' AND hypertable_name = CAST(:table AS text)
 ORDER BY range_end OFFSET :skip LIMIT 1)
"""


async def _drop_chunks(
    session: AsyncSession, table: str, age: timedelta, max_chunks: int | None
) -> int:
    # Every piece of the SQL below is a constant of this module; the values are bound.
    cutoff = "now() - CAST(:age AS interval)"
    if max_chunks is not None:
        cutoff = f"LEAST({cutoff}, {NTH_CHUNK_END})"  # LEAST skips the NULL of too few chunks
    drop = f"SELECT count(*) FROM drop_chunks(CAST(:table AS regclass), older_than => {cutoff})"  # noqa: S608
    result = await session.execute(
        text(drop),
        {
            "table": table,
            "age": f"{age.total_seconds()} seconds",
            "skip": (max_chunks or 1) - 1,
        },
    )
    return int(result.scalar() or 0)
