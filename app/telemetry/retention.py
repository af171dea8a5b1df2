"""Retention: drop raw chunks past their age with drop_chunks; rollups are kept longer."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# One retention run at a time across every app process: drop_chunks takes heavy locks.
RETENTION_LOCK_KEY = 0x52_54_52_45  # "RTRE"

RAW_TABLES = ("module_sample", "rack_sample")
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
    session: AsyncSession, *, raw_age: timedelta, rollup_age: timedelta, only: str | None = None
) -> RetentionResult:
    """Drop chunks entirely older than the configured ages (idempotent); `only` limits the run
    to one table (or "rollup_dirty"), which is how the background job runs it."""
    locked = await session.execute(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RETENTION_LOCK_KEY}
    )
    if not locked.scalar():
        return RetentionResult({}, skipped=True)
    dropped = {}
    for tables, age in ((RAW_TABLES, raw_age), (ROLLUP_TABLES, rollup_age)):
        for table in tables:
            if only in (None, table):
                dropped[table] = await _drop_chunks(session, table, age)
    if only in (None, "rollup_dirty"):
        await session.execute(
            text("DELETE FROM rollup_dirty WHERE bucket < now() - CAST(:age AS interval)"),
            {"age": f"{raw_age.total_seconds()} seconds"},
        )
    return RetentionResult(dropped)


async def _drop_chunks(session: AsyncSession, table: str, age: timedelta) -> int:
    result = await session.execute(
        text(
            "SELECT count(*) FROM drop_chunks(CAST(:table AS regclass), "
            "older_than => now() - CAST(:age AS interval))"
        ),
        {"table": table, "age": f"{age.total_seconds()} seconds"},
    )
    return int(result.scalar() or 0)
