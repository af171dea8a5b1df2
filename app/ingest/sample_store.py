"""Writing a batch's samples: binary COPY into a staging table, then one insert per hypertable.

Each stream's rows are encoded once and COPYed into a temp table of the connection (no WAL,
no indexes). From there one INSERT moves them into the hypertable (a savepoint catches
samples already stored, which then go in with ON CONFLICT DO NOTHING), and one UPDATE moves
the latest-state rows forward. This costs PostgreSQL less than a COPY straight into the
hypertable followed by reading the same rows back from it by key for the latest state.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from psycopg import errors as pg_errors
from sqlalchemy.ext.asyncio import AsyncSession

from app.telemetry.copy_binary import module_samples_copy_data, scalar_rows_copy_data
from app.telemetry.module_block import ModuleSamples
from app.telemetry.repository import copy_data, driver_connection
from app.telemetry.schemas import (
    MODULE_SAMPLE_COLUMNS,
    RACK_SAMPLE_COLUMNS,
    RACK_SAMPLE_PG_TYPES,
    SYSTEM_SAMPLE_COLUMNS,
    SYSTEM_SAMPLE_PG_TYPES,
    ModuleSampleRow,
    RackSampleRow,
    SystemSampleRow,
)

STAGED = "ingest.staged"  # session.info key: the stages filled in this session
SAVEPOINT = "ingest_samples"


@dataclass(frozen=True)
class Target:
    """A hypertable, its latest-state table and the key they share."""

    table: str
    latest: str
    key: str
    columns: tuple[str, ...]

    @property
    def stage(self) -> str:
        """The connection's temp table for this hypertable's rows."""
        return f"{self.table}_stage"


MODULES = Target("module_sample", "module_latest", "module_id", MODULE_SAMPLE_COLUMNS)
STRINGS = Target("rack_sample", "rack_latest", "rack_id", RACK_SAMPLE_COLUMNS)
SYSTEMS = Target("system_sample", "system_latest", "site_id", SYSTEM_SAMPLE_COLUMNS)


@dataclass(frozen=True)
class SampleStream:
    """One batch's samples for a hypertable, encoded once for binary COPY."""

    target: Target
    count: int
    data: bytes
    assets: int  # distinct assets (modules or strings) among the samples

    @property
    def one_per_asset(self) -> bool:
        """Whether each asset has one sample here (the newest of each needs no sorting)."""
        return self.count == self.assets


def module_stream(samples: ModuleSamples | list[ModuleSampleRow]) -> SampleStream:
    """Module samples ready for COPY."""
    if not isinstance(samples, ModuleSamples):
        samples = ModuleSamples.of_rows(samples)
    data = module_samples_copy_data(samples)
    return SampleStream(MODULES, len(samples), data, len(samples.module_ids()))


def rack_stream(rows: list[RackSampleRow]) -> SampleStream:
    """String samples ready for COPY."""
    data = scalar_rows_copy_data(rows, RACK_SAMPLE_COLUMNS, RACK_SAMPLE_PG_TYPES)
    return SampleStream(STRINGS, len(rows), data, len({row.rack_id for row in rows}))


def system_stream(rows: list[SystemSampleRow]) -> SampleStream:
    """System (pack-level) samples ready for COPY."""
    data = scalar_rows_copy_data(rows, SYSTEM_SAMPLE_COLUMNS, SYSTEM_SAMPLE_PG_TYPES)
    return SampleStream(SYSTEMS, len(rows), data, len({row.site_id for row in rows}))


async def _stage(session: AsyncSession, streams: Sequence[SampleStream]) -> None:
    """COPY each stream into the connection's stage for its hypertable, emptied first."""
    conn = await driver_connection(session)
    staged: set[str] = session.info.setdefault(STAGED, set())
    statements = [
        f"CREATE TEMP TABLE IF NOT EXISTS {s.target.stage} (LIKE {s.target.table}) "
        "ON COMMIT DELETE ROWS"
        for s in streams
    ]
    # ON COMMIT DELETE ROWS empties a stage at each commit; a second stream in the same
    # session (tests, tools) must not see the first one's rows.
    statements += [f"TRUNCATE {s.target.stage}" for s in streams if s.target.stage in staged]
    await conn.execute("; ".join(statements))  # one round trip
    for stream in streams:
        staged.add(stream.target.stage)
        await copy_data(session, stream.target.stage, stream.target.columns, stream.data)


async def _counts(session: AsyncSession, statements: list[str]) -> list[int]:
    """Run statements in one round trip; the row count of each."""
    conn = await driver_connection(session)
    cursor = await conn.execute("; ".join(statements))
    counts = [cursor.rowcount]
    while cursor.nextset():
        counts.append(cursor.rowcount)
    return counts


@lru_cache(maxsize=8)
def _insert(target: Target, *, skip_stored: bool) -> str:
    names = ", ".join(target.columns)
    return (
        f"INSERT INTO {target.table} ({names}) SELECT {names} FROM {target.stage}"  # noqa: S608 - fixed identifiers
        + (" ON CONFLICT DO NOTHING" if skip_stored else "")
    )


async def write_samples(session: AsyncSession, *streams: SampleStream) -> list[int]:
    """Store each stream's samples; how many of each were new. Stored ones are left untouched.

    The streams stay staged for upsert_latest() in the same transaction.
    """
    present = [s for s in streams if s.count]
    if not present:
        return [0] * len(streams)
    await _stage(session, present)
    try:
        # Plain inserts are the cheaper path; overlaps are rare (a replay stops earlier).
        inserts = [_insert(s.target, skip_stored=False) for s in present]
        guarded = [f"SAVEPOINT {SAVEPOINT}", *inserts, f"RELEASE SAVEPOINT {SAVEPOINT}"]
        counts = (await _counts(session, guarded))[1:-1]
    except pg_errors.UniqueViolation:
        await _counts(
            session, [f"ROLLBACK TO SAVEPOINT {SAVEPOINT}", f"RELEASE SAVEPOINT {SAVEPOINT}"]
        )
        counts = await _counts(session, [_insert(s.target, skip_stored=True) for s in present])
    new = dict(zip((id(s) for s in present), counts, strict=True))
    return [new.get(id(s), 0) for s in streams]


@lru_cache(maxsize=8)
def _latest_statements(target: Target, *, one_per_asset: bool) -> tuple[str, str]:
    """(move existing rows forward, add rows for assets seen for the first time)."""
    names, key, latest = ", ".join(target.columns), target.key, target.latest
    newest = (
        f"SELECT {names} FROM {target.stage}"  # noqa: S608 - fixed identifiers
        if one_per_asset
        else f"SELECT DISTINCT ON ({key}) {names} FROM {target.stage} ORDER BY {key}, ts DESC"  # noqa: S608
    )
    sets = ", ".join(f"{c} = s.{c}" for c in target.columns if c != key)
    # The ANY(...) names the batch's assets so that the latest-state rows are found by key: the
    # planner knows nothing of the stage's size and would otherwise hash the whole fleet's rows.
    move = (
        f"UPDATE {latest} AS l SET {sets} FROM ({newest}) AS s "  # noqa: S608 - fixed identifiers
        f"WHERE l.{key} = s.{key} AND l.{key} = ANY(ARRAY(SELECT {key} FROM {target.stage})) "
        "AND l.ts < s.ts"
    )
    updates = ", ".join(f"{c} = excluded.{c}" for c in target.columns if c != key)
    add = (
        f"INSERT INTO {latest} ({names}) SELECT * FROM ({newest}) AS s "  # noqa: S608 - fixed identifiers
        f"WHERE NOT EXISTS (SELECT 1 FROM {latest} l WHERE l.{key} = s.{key}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates} WHERE {latest}.ts < excluded.ts"
    )
    return move, add


async def upsert_latest(session: AsyncSession, *streams: SampleStream) -> None:
    """Move each asset's latest state forward to its newest sample here (never backward).

    Reads the stages that write_samples() filled in this transaction.
    """
    present = [s for s in streams if s.count]
    if not present:
        return
    plans = [_latest_statements(s.target, one_per_asset=s.one_per_asset) for s in present]
    moved = await _counts(session, [move for move, _ in plans])
    # Fewer moved than assets: some have no row yet, or a newer one (a late batch). Only then
    # look for the first kind, so a live batch costs one round trip.
    adds = [add for (_, add), n, s in zip(plans, moved, present, strict=True) if n < s.assets]
    if adds:
        await _counts(session, adds)
