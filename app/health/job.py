"""The daily health job: score each complete day once per site, rank its watch list, and
raise or clear the self-discharge alarms.

Safe in several processes: a site's days are taken under a transaction-level advisory lock that
a second process does not wait for (it moves on to the next site), and each day is recorded in
health_day_done in the same transaction as its results, so no day is scored twice or skipped.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.health.leakage import check_self_discharge, site_level_ma
from app.health.scoring import score_day
from app.health.watch_store import store_watch, window_scores
from app.health.watchlist import WatchSettings, rank_cells

HEALTH_LOCK_CLASS = 23  # advisory lock namespace: (23, site_id) guards one site's health days
COMPLETE_AFTER = timedelta(minutes=10)  # a day is scored once it (and late samples) has passed
DAY = timedelta(days=1)

TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:cls, :site_id)")
LAST_DONE = text("SELECT max(day) FROM health_day_done WHERE site_id = :site_id")
FIRST_SAMPLE = text("""
SELECT min(s.ts) FROM module_sample s
WHERE s.module_id IN (SELECT m.id FROM module m JOIN rack r ON r.id = m.rack_id
                      WHERE r.site_id = :site_id)
""")
MARK_DONE = text("INSERT INTO health_day_done (site_id, day) VALUES (:site_id, :day)")
SITES = text("SELECT id FROM site ORDER BY id")


def utc_day(ts: datetime) -> datetime:
    """The start of the UTC day `ts` falls in."""
    return ts.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def pending_days(
    session: AsyncSession, *, site_id: int, now: datetime, limit: int
) -> list[datetime]:
    """Up to `limit` complete days after the last one scored (from the first sample's day)."""
    last = (await session.execute(LAST_DONE, {"site_id": site_id})).scalar_one_or_none()
    if last is not None:
        first = utc_day(last) + DAY
    else:
        sample = (await session.execute(FIRST_SAMPLE, {"site_id": site_id})).scalar_one_or_none()
        if sample is None:
            return []
        first = utc_day(sample)
    days: list[datetime] = []
    while len(days) < limit and first + DAY + COMPLETE_AFTER <= now:
        days.append(first)
        first += DAY
    return days


async def score_site_days(
    session: AsyncSession,
    *,
    site_id: int,
    now: datetime,
    settings: WatchSettings,
    limit: int = 7,
) -> int:
    """Score and rank up to `limit` pending days of a site; 0 when none or another process
    holds the site."""
    locked = await session.execute(TRY_LOCK, {"cls": HEALTH_LOCK_CLASS, "site_id": site_id})
    if not locked.scalar():
        return 0
    days = await pending_days(session, site_id=site_id, now=now, limit=limit)
    level_ma = await site_level_ma(session, site_id) if days else 0.0
    for day in days:
        await score_day(session, site_id=site_id, day=day)
        scores = await window_scores(session, site_id=site_id, last=day, settings=settings)
        entries = rank_cells(scores.keys, scores.regimes, scores.days, settings)
        await store_watch(session, site_id=site_id, day=day, entries=entries)
        await check_self_discharge(session, site_id=site_id, day=day, level_ma=level_ma)
        await session.execute(MARK_DONE, {"site_id": site_id, "day": day})
    return len(days)


async def site_ids(session: AsyncSession) -> list[int]:
    """Every site's id."""
    return list((await session.execute(SITES)).scalars())
