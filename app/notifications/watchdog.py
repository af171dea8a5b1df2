"""Watchdog alarms the backend raises itself: a site or an edge that has gone quiet.

Data age is the time since an edge's newest batch. A site whose every edge is older than the
limit raises site_offline; a site where only some are raises edge_silent (naming them). An edge
never heard from is not yet commissioned and is left out. Each alarm clears once data flows.
"""

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms.catalogue import describe
from app.alarms.repository import AlarmSource, clear_alarm, raise_alarm

SITE_OFFLINE = "site_offline"
EDGE_SILENT = "edge_silent"
WATCHDOG_LOCK_KEY = 7_310_022  # one sweep at a time across app processes

EDGE_AGES = text("""
SELECT site_id, name, extract(epoch FROM CAST(:now AS timestamptz) - last_seen_at)
FROM edge_device WHERE revoked_at IS NULL AND last_seen_at IS NOT NULL ORDER BY site_id, name
""")

OPEN_ALARMS = text("""
SELECT site_id, code FROM alarm
WHERE code IN ('site_offline', 'edge_silent') AND state <> 'normal' AND cleared_at IS NULL
  AND rack_id IS NULL AND module_id IS NULL
""")


@dataclass(frozen=True, slots=True)
class EdgeAge:
    """How long ago one edge's newest batch arrived."""

    name: str
    age_s: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a site's edges say: which watchdog alarm should stand, with its value and text."""

    code: str | None
    age_s: float
    silent: tuple[str, ...]


def judge(edges: list[EdgeAge], limit_s: float) -> Verdict:
    """site_offline when every edge is silent, edge_silent when some are, else nothing."""
    silent = [e for e in edges if e.age_s > limit_s]
    if not silent:
        return Verdict(None, 0.0, ())
    names = tuple(e.name for e in silent)
    if len(silent) == len(edges):
        return Verdict(SITE_OFFLINE, min(e.age_s for e in silent), names)
    return Verdict(EDGE_SILENT, max(e.age_s for e in silent), names)


async def _site_edges(session: AsyncSession, now: datetime) -> dict[int, list[EdgeAge]]:
    sites: dict[int, list[EdgeAge]] = defaultdict(list)
    for site_id, name, age in await session.execute(EDGE_AGES, {"now": now}):
        sites[site_id].append(EdgeAge(name, float(age)))
    return sites


def _message(verdict: Verdict, limit_s: float) -> str:
    title = describe(verdict.code or SITE_OFFLINE).title
    if verdict.code == SITE_OFFLINE:
        return f"{title}: no data for {verdict.age_s:.0f} s (limit {limit_s:.0f} s)"
    return f"{title}: {', '.join(verdict.silent)} sent nothing for over {limit_s:.0f} s"


async def sweep(session: AsyncSession, *, now: datetime, limit_s: float) -> int:
    """Raise and clear watchdog alarms for every site; returns how many changed."""
    locked = await session.execute(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": WATCHDOG_LOCK_KEY}
    )
    if not locked.scalar():
        return 0  # another process is sweeping right now
    standing = {(site, code) for site, code in await session.execute(OPEN_ALARMS)}
    changed = 0
    for site_id, edges in (await _site_edges(session, now)).items():
        verdict = judge(edges, limit_s)
        for code in (SITE_OFFLINE, EDGE_SILENT):
            is_open = (site_id, code) in standing
            if code == verdict.code and not is_open:
                await raise_alarm(
                    session,
                    AlarmSource(site_id),
                    code=code,
                    priority=describe(code).priority,
                    ts=now,
                    message=_message(verdict, limit_s),
                    # Rounded up: a value shown at or under the limit would contradict the alarm.
                    value=math.ceil(verdict.age_s * 10) / 10,
                    threshold=limit_s,
                )
                changed += 1
            elif code != verdict.code and is_open:
                changed += await clear_alarm(session, AlarmSource(site_id), code=code, ts=now)
    return changed
