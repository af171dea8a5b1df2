"""Retention: drop raw chunks past their age with drop_chunks; rollups are kept longer."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# One retention run at a time across every app process: drop_chunks takes heavy locks.
RETENTION_LOCK_KEY = 0x52_54_52_45  # "RTRE"

RAW_TABLES = ("module_sample", "rack_sample")
ROLLUP_TABLES = ("module_sample_1m", "rack_sample_1m")


@dataclass(frozen=True)
class RetentionResult:
    """Chunks dropped per table, or skipped when another process holds the lock."""

    dropped: dict[str, int]
    skipped: bool = False


async def apply_retention(
    session: AsyncSession, *, raw_age: timedelta, rollup_age: timedelta
) -> RetentionResult:
    """Drop chunks entirely older than the configured ages (idempotent)."""
    locked = await session.execute(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RETENTION_LOCK_KEY}
    )
    if not locked.scalar():
        return RetentionResult({}, skipped=True)
    dropped = {}
    for tables, age in ((RAW_TABLES, raw_age), (ROLLUP_TABLES, rollup_age)):
        for table in tables:
            result = await session.execute(
                text(
                    "SELECT count(*) FROM drop_chunks(CAST(:table AS regclass), "
                    "older_than => now() - CAST(:age AS interval))"
                ),
                {"table": table, "age": f"{age.total_seconds()} seconds"},
            )
            dropped[table] = int(result.scalar() or 0)
    await session.execute(
        text("DELETE FROM rollup_dirty WHERE bucket < now() - CAST(:age AS interval)"),
        {"age": f"{raw_age.total_seconds()} seconds"},
    )
    return RetentionResult(dropped)
