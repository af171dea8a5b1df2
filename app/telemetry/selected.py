"""Reading a telemetry selection (app/telemetry/export_query.py): a page for the API, the
number of entities it covers, and the whole of it a chunk at a time for exports."""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.telemetry.export_query import (
    Selection,
    chunk_starts_statement,
    entity_count_statement,
    parameters,
    slices,
    statement,
)

CHUNK_ROWS = 5_000  # database rows per chunk (a long-format chunk has rows x values lines)


@dataclass(frozen=True, slots=True)
class SelectedRow:
    """One sample or bucket of one entity: the selection's fields in its order."""

    ts: datetime
    string: int | None
    module: int | None
    entity_id: int  # the key the rows are ordered by, with ts (the cursor's first half)
    values: tuple[Any, ...]


async def selected_page(
    session: AsyncSession, selection: Selection, *, after: tuple[int, datetime] | None, limit: int
) -> list[SelectedRow]:
    """Up to `limit` rows after (entity id, time), by entity then time."""
    params = parameters(selection, after=after, limit=limit)
    rows = await session.execute(statement(selection, paged=True), params)
    return [
        SelectedRow(ts, string, module, entity, tuple(values))
        for ts, string, module, entity, *values in rows
    ]


async def entity_count(session: AsyncSession, selection: Selection) -> int:
    """How many modules, strings or systems the selection covers."""
    bound = parameters(selection, after=None, limit=None)
    return int((await session.execute(entity_count_statement(selection), bound)).scalar_one())


async def selected_chunks(
    sessionmaker: async_sessionmaker[AsyncSession], selection: Selection, *, chunks_per_query: int
) -> AsyncIterator[Sequence[Any]]:
    """The selection's rows (ts, string, module, entity id, *values), a chunk at a time, through
    a server-side cursor per slice; positional, since an export streams millions of them.

    Each slice of the range (a bounded number of the table's chunks) is its own transaction: a
    query's locks are held to its transaction's end, and one over thousands of chunks would
    exceed the server's lock table ("out of shared memory").
    """
    async with sessionmaker() as session:
        async with session.begin():
            query, bound = chunk_starts_statement(selection)
            starts = list((await session.scalars(query, bound)).all())
        for piece in slices(selection, starts, chunks_per_query):
            async with session.begin():
                result = await session.stream(
                    statement(piece, paged=False),
                    parameters(piece, after=None, limit=None),
                    execution_options={"yield_per": CHUNK_ROWS},
                )
                async for chunk in result.partitions(CHUNK_ROWS):
                    yield chunk
