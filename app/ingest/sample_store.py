"""Writing a batch's samples: binary COPY into a staging table, then one insert per hypertable.

Each stream's rows are encoded once and COPYed into a temp table of the connection (no WAL,
no indexes). From there one INSERT moves them into the hypertable (a savepoint catches
samples already stored, which then go in with ON CONFLICT DO NOTHING), and one UPDATE moves
the latest-state rows forward. This costs PostgreSQL less than a COPY straight into the
hypertable followed by reading the same rows back from it by key for the latest state.
"""

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
    ModuleSampleRow,
    RackSampleRow,
)

STAGED = "ingest.staged"  # session.info key: the stages filled in this session


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


async def _stage(session: AsyncSession, stream: SampleStream) -> None:
    """COPY the stream into the connection's stage for its hypertable, emptied first."""
    target, conn = stream.target, await driver_connection(session)
    await conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {target.stage} (LIKE {target.table}) "
        "ON COMMIT DELETE ROWS"
    )
    staged: set[str] = session.info.setdefault(STAGED, set())
    if target.stage in staged:
        # ON COMMIT DELETE ROWS empties it at each commit; a second stream in the same
        # session (tests, tools) must not see the first one's rows.
        await conn.execute(f"TRUNCATE {target.stage}")
    staged.add(target.stage)
    await copy_data(session, target.stage, target.columns, stream.data)


@lru_cache(maxsize=8)
def _insert(target: Target, *, skip_stored: bool) -> str:
    names = ", ".join(target.columns)
    return (
        f"INSERT INTO {target.table} ({names}) SELECT {names} FROM {target.stage}"  # noqa: S608 - fixed identifiers
        + (" ON CONFLICT DO NOTHING" if skip_stored else "")
    )


async def write_samples(session: AsyncSession, stream: SampleStream) -> int:
    """Store samples; returns how many were new. Samples already stored are left untouched.

    The stream stays staged for upsert_latest() in the same transaction.
    """
    if not stream.count:
        return 0
    await _stage(session, stream)
    conn = await driver_connection(session)
    try:
        # A plain insert is the cheaper path; overlaps are rare (a replay stops earlier).
        async with conn.transaction():  # a savepoint within the request's transaction
            return (await conn.execute(_insert(stream.target, skip_stored=False))).rowcount
    except pg_errors.UniqueViolation:
        return (await conn.execute(_insert(stream.target, skip_stored=True))).rowcount


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
    move = (
        f"UPDATE {latest} AS l SET {sets} FROM ({newest}) AS s "  # noqa: S608 - fixed identifiers
        f"WHERE l.{key} = s.{key} AND l.ts < s.ts"
    )
    updates = ", ".join(f"{c} = excluded.{c}" for c in target.columns if c != key)
    add = (
        f"INSERT INTO {latest} ({names}) SELECT * FROM ({newest}) AS s "  # noqa: S608 - fixed identifiers
        f"WHERE NOT EXISTS (SELECT 1 FROM {latest} l WHERE l.{key} = s.{key}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates} WHERE {latest}.ts < excluded.ts"
    )
    return move, add


async def upsert_latest(session: AsyncSession, stream: SampleStream) -> None:
    """Move each asset's latest state forward to its newest sample here (never backward).

    Reads the stage that write_samples() filled in this transaction.
    """
    if not stream.count:
        return
    move, add = _latest_statements(stream.target, one_per_asset=stream.one_per_asset)
    conn = await driver_connection(session)
    moved = (await conn.execute(move)).rowcount
    # Fewer moved than assets: some have no row yet, or a newer one (a late batch). Only then
    # look for the first kind, so a live batch costs one statement.
    if moved < stream.assets:
        await conn.execute(add)
