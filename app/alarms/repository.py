"""SQL for the alarms the backend raises and clears itself (clock skew, spool overflow, failed
commands); alarms from edge events are derived from their history (history.py)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class AlarmSource:
    """Where an alarm comes from: a site, optionally a string, module and cell."""

    site_id: int
    rack_id: int | None = None
    module_id: int | None = None
    cell_index: int | None = None


# Alarms the backend raises itself, at its own clock (edge events go through history.py).
# Conflict target = the partial unique index uq_alarm_open_source: one open row per source+code.
RAISE = text("""
INSERT INTO alarm (site_id, rack_id, module_id, cell_index, code, priority, state, message,
                   value, threshold, raised_at, last_raised_at)
VALUES (:site_id, :rack_id, :module_id, :cell_index, :code, :priority, 'unacked', :message,
        :value, :threshold, :ts, :ts)
ON CONFLICT (site_id, coalesce(rack_id, 0), coalesce(module_id, 0), code)
    WHERE state <> 'normal'
DO UPDATE SET occurrences = alarm.occurrences + 1,
              last_raised_at = greatest(alarm.last_raised_at, excluded.raised_at),
              cleared_at = NULL,
              value = coalesce(excluded.value, alarm.value),
              state = CASE WHEN alarm.state = 'rtn_unacked' THEN 'unacked' ELSE alarm.state END
""")

CLEAR = text("""
UPDATE alarm SET cleared_at = :ts,
                 state = CASE state WHEN 'acked' THEN 'normal'
                                    WHEN 'unacked' THEN 'rtn_unacked' ELSE state END
WHERE site_id = :site_id AND coalesce(rack_id, 0) = coalesce(:rack_id, 0)
  AND coalesce(module_id, 0) = coalesce(:module_id, 0) AND code = :code
  AND state IN ('unacked', 'acked', 'shelved') AND raised_at <= :ts
""")


async def raise_alarm(
    session: AsyncSession,
    source: AlarmSource,
    *,
    code: str,
    priority: int,
    message: str,
    ts: datetime,
    value: float | None = None,
    threshold: float | None = None,
) -> None:
    """Open an alarm, or count another occurrence of the one already open for this source."""
    await session.execute(
        RAISE,
        {
            "site_id": source.site_id,
            "rack_id": source.rack_id,
            "module_id": source.module_id,
            "cell_index": source.cell_index,
            "code": code,
            "priority": priority,
            "message": message,
            "value": value,
            "threshold": threshold,
            "ts": ts,
        },
    )


async def clear_alarm(
    session: AsyncSession, source: AlarmSource, *, code: str, ts: datetime
) -> int:
    """Mark the condition gone (acked -> normal, unacked -> returned-to-normal-unacked; a
    shelved alarm stays shelved and learns it has cleared)."""
    result = await session.execute(
        CLEAR,
        {
            "site_id": source.site_id,
            "rack_id": source.rack_id,
            "module_id": source.module_id,
            "code": code,
            "ts": ts,
        },
    )
    return int(getattr(result, "rowcount", 0))


async def open_alarm_value(
    session: AsyncSession, source: AlarmSource, *, code: str
) -> float | None:
    """The value of the open alarm for this source and code, if there is one."""
    result = await session.execute(
        text(
            "SELECT coalesce(value, 0) FROM alarm WHERE site_id = :site_id "
            "AND coalesce(rack_id, 0) = coalesce(:rack_id, 0) "
            "AND coalesce(module_id, 0) = coalesce(:module_id, 0) AND code = :code "
            "AND state <> 'normal'"
        ),
        {
            "site_id": source.site_id,
            "rack_id": source.rack_id,
            "module_id": source.module_id,
            "code": code,
        },
    )
    value = result.scalar()
    return None if value is None else float(value)
