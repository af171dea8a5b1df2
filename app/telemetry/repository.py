"""SQL for telemetry: binary COPY into the hypertables, reads of samples."""

from collections.abc import Iterable, Sequence
from datetime import datetime

from psycopg import AsyncConnection as PsycopgConnection
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.telemetry.copy_binary import module_samples_copy_data, scalar_rows_copy_data
from app.telemetry.models import ModuleSample
from app.telemetry.module_block import ModuleSamples
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


async def copy_data(
    session: AsyncSession, table: str, columns: tuple[str, ...], data: bytes
) -> None:
    """Send a pre-built binary COPY stream into `table`; a duplicate key raises UniqueViolation."""
    conn = await driver_connection(session)
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    async with conn.cursor() as cur, cur.copy(statement) as copy:
        await copy.write(data)


async def copy_rows(
    session: AsyncSession,
    table: str,
    columns: tuple[str, ...],
    types: tuple[str, ...],
    rows: Sequence[object],
) -> int:
    """Binary COPY of rows of scalar columns into `table`."""
    await copy_data(session, table, columns, scalar_rows_copy_data(rows, columns, types))
    return len(rows)


async def copy_module_samples(session: AsyncSession, rows: Iterable[ModuleSampleRow]) -> int:
    """Write module samples with binary COPY; a (module_id, ts) already stored is an error."""
    samples = ModuleSamples.of_rows(list(rows))
    await copy_data(
        session, "module_sample", MODULE_SAMPLE_COLUMNS, module_samples_copy_data(samples)
    )
    return len(samples)


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
