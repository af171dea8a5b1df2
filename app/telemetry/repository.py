"""SQL for telemetry: binary COPY into the hypertables, reads of samples."""

from collections.abc import Iterable
from datetime import datetime

from psycopg import AsyncConnection as PsycopgConnection
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.telemetry.copy_binary import module_rows_copy_data
from app.telemetry.models import ModuleSample
from app.telemetry.schemas import (
    MODULE_SAMPLE_COLUMNS,
    ModuleSampleRow,
)


async def driver_connection(session: AsyncSession) -> PsycopgConnection[object]:
    """The psycopg connection under a session, in the session's transaction (for COPY)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, PsycopgConnection)
    return driver


async def copy_rows(
    session: AsyncSession,
    table: str,
    columns: tuple[str, ...],
    types: tuple[str, ...],
    rows: Iterable[object],
) -> int:
    """Binary COPY of rows into `table`; a duplicate key raises UniqueViolation.

    Column by column through psycopg's adapters; module samples use copy_module_rows.
    """
    conn = await driver_connection(session)
    count = 0
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    async with conn.cursor() as cur, cur.copy(statement) as copy:
        copy.set_types(list(types))
        for row in rows:
            await copy.write_row(tuple(getattr(row, c) for c in columns))
            count += 1
    return count


async def copy_module_rows(session: AsyncSession, table: str, rows: list[ModuleSampleRow]) -> int:
    """Binary COPY of module samples as one pre-built stream (see copy_binary)."""
    conn = await driver_connection(session)
    statement = f"COPY {table} ({', '.join(MODULE_SAMPLE_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    async with conn.cursor() as cur, cur.copy(statement) as copy:
        await copy.write(module_rows_copy_data(rows))
    return len(rows)


async def copy_module_samples(session: AsyncSession, rows: Iterable[ModuleSampleRow]) -> int:
    """Write module samples with binary COPY; a (module_id, ts) already stored is an error."""
    return await copy_module_rows(session, "module_sample", list(rows))


async def module_samples(
    session: AsyncSession, *, module_id: int, start: datetime, end: datetime
) -> list[ModuleSampleRow]:
    """A module's raw samples in [start, end), oldest first."""
    stmt = (
        select(*(getattr(ModuleSample, c) for c in MODULE_SAMPLE_COLUMNS))
        .where(ModuleSample.module_id == module_id, ModuleSample.ts >= start, ModuleSample.ts < end)
        .order_by(ModuleSample.ts)
    )
    result = await session.execute(stmt)
    return [ModuleSampleRow(*row) for row in result]
