"""SQL for the alarm history (alarm_event) and the alarm rows derived from it (episodes.py)."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms.catalogue import describe
from app.alarms.episodes import Ack, Episode, Mark, Stored, plan


@dataclass(frozen=True, slots=True, order=True)
class Source:
    """One alarm source: a site, optionally a string and module, and a code."""

    site_id: int
    rack_id: int | None
    module_id: int | None
    code: str


SOURCE = """site_id = :site_id AND coalesce(rack_id, 0) = coalesce(CAST(:rack_id AS int), 0)
  AND coalesce(module_id, 0) = coalesce(CAST(:module_id AS int), 0) AND code = :code"""

RECORD = text("""
INSERT INTO alarm_event (site_id, rack_id, module_id, code, ts, raised, cell_index, value,
                         message)
SELECT * FROM unnest(CAST(:site_id AS int[]), CAST(:rack_id AS int[]), CAST(:module_id AS int[]),
                     CAST(:code AS text[]), CAST(:ts AS timestamptz[]), CAST(:raised AS bool[]),
                     CAST(:cell_index AS smallint[]), CAST(:value AS real[]),
                     CAST(:message AS text[]))
ON CONFLICT DO NOTHING
RETURNING site_id, rack_id, module_id, code, ts
""")
# Transaction-scoped: two batches that touch one source take turns (edges of one site may send
# at once; the alarm's operator actions lock its row instead).
LOCK = text("SELECT pg_advisory_xact_lock(:site_id, hashtext(:key))")
# The last return to normal before the earliest new event: replay starts after it.
RESTART = text(f"""
SELECT max(greatest(cleared_at, acked_at)) FROM alarm
WHERE {SOURCE} AND state = 'normal' AND greatest(cleared_at, acked_at) < :earliest
""")  # noqa: S608 - constant SQL
ROWS = text(f"""
SELECT id, state, raised_at, acked_at, acked_by, ack_note FROM alarm
WHERE {SOURCE} AND (CAST(:after AS timestamptz) IS NULL OR raised_at > :after)
ORDER BY raised_at FOR UPDATE
""")  # noqa: S608 - constant SQL
MARKS = text(f"""
SELECT ts, raised, cell_index, value, message FROM alarm_event
WHERE {SOURCE} AND (CAST(:after AS timestamptz) IS NULL OR ts > :after)
""")  # noqa: S608 - constant SQL
DROP = text("DELETE FROM alarm WHERE id = ANY(:ids)")
UPDATE = text("""
UPDATE alarm SET raised_at = :raised_at, last_raised_at = :last_raised_at,
       occurrences = :occurrences, cleared_at = :cleared_at, state = :state,
       acked_at = :acked_at, acked_by = :acked_by, ack_note = :ack_note,
       cell_index = :cell_index, value = :value, message = coalesce(:message, message)
WHERE id = :id
""")
INSERT = text("""
INSERT INTO alarm (site_id, rack_id, module_id, cell_index, code, priority, state, message,
                   value, threshold, raised_at, last_raised_at, occurrences, cleared_at,
                   acked_at, acked_by, ack_note)
VALUES (:site_id, :rack_id, :module_id, :cell_index, :code, :priority, :state, :message,
        :value, :threshold, :raised_at, :last_raised_at, :occurrences, :cleared_at,
        :acked_at, :acked_by, :ack_note)
""")


async def record(
    session: AsyncSession, marks: Sequence[tuple[Source, Mark]]
) -> dict[Source, list[datetime]]:
    """Store raises and clears once each; the times of those not stored before, by source."""
    if not marks:
        return {}
    columns: dict[str, list[object]] = defaultdict(list)
    for source, mark in marks:
        for name in ("site_id", "rack_id", "module_id", "code"):
            columns[name].append(getattr(source, name))
        for name in ("ts", "raised", "cell_index", "value", "message"):
            columns[name].append(getattr(mark, name))
    new: dict[Source, list[datetime]] = defaultdict(list)
    for site_id, rack_id, module_id, code, ts in await session.execute(RECORD, columns):
        new[Source(site_id, rack_id, module_id, code)].append(ts)
    return dict(new)


def _params(source: Source) -> dict[str, object]:
    return {
        "site_id": source.site_id,
        "rack_id": source.rack_id,
        "module_id": source.module_id,
        "code": source.code,
    }


async def rederive(session: AsyncSession, source: Source, new: Sequence[datetime]) -> None:
    """Recompute the source's alarm rows from the last return to normal before `new` on."""
    key = f"alarm {source.rack_id or 0} {source.module_id or 0} {source.code}"
    await session.execute(LOCK, {"site_id": source.site_id, "key": key})
    params = _params(source)
    after = (await session.execute(RESTART, {**params, "earliest": min(new)})).scalar()
    rows = [_stored(row) for row in await session.execute(ROWS, {**params, "after": after})]
    marks = [Mark(*row) for row in await session.execute(MARKS, {**params, "after": after})]
    found = plan(rows, marks)
    if found.merged:  # first: the row that absorbs them may then stand in their place
        await session.execute(DROP, {"ids": found.merged})
    for episode in found.episodes:
        await _write(session, source, episode)


def _stored(row: Row[Any]) -> Stored:
    ack = None if row.acked_at is None else Ack(row.acked_at, row.acked_by, row.ack_note)
    return Stored(row.id, row.state, row.raised_at, ack)


async def _write(session: AsyncSession, source: Source, episode: Episode) -> None:
    first, ack = episode.first, episode.ack
    values = {
        "raised_at": first.ts,
        "last_raised_at": episode.last_raised_at,
        "occurrences": episode.occurrences,
        "cleared_at": episode.cleared_at,
        "state": episode.state,
        "cell_index": first.cell_index,
        "value": first.value,
        "message": first.message,
        "acked_at": ack.at if ack else None,
        "acked_by": ack.by if ack else None,
        "ack_note": ack.note if ack else None,
    }
    if episode.row_id is not None:
        await session.execute(UPDATE, {**values, "id": episode.row_id})
        return
    entry = describe(source.code)
    await session.execute(
        INSERT,
        {
            **values,
            **_params(source),
            "priority": entry.priority,
            "threshold": entry.threshold,
            "message": first.message or entry.title,
        },
    )
