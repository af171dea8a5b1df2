"""Background jobs in each app process: rollups, retention, shelf expiry, command timeouts,
battery health, the watchdog and notification delivery.

All are safe with several processes: rollups and notifications claim work with SKIP LOCKED,
retention and the watchdog take an advisory lock, the health job one advisory lock per site,
shelf and command transitions are conditional UPDATEs. A failing run is logged with its context
and retried next interval.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.alarms.lifecycle import unshelve_expired
from app.commands.deadlines import sweep as sweep_commands
from app.config import Settings
from app.core.errors import ThrottledLog, database_unavailable, failure_kind
from app.health.job import score_site_days, site_ids
from app.health.watchlist import WatchSettings
from app.notifications.watchdog import sweep as sweep_watchdog
from app.notifications.worker import notify_once
from app.telemetry.retention import STEPS as RETENTION_STEPS
from app.telemetry.retention import RetentionResult, apply_retention
from app.telemetry.rollups import roll_up

log = logging.getLogger("app.jobs")
JOB_LOG = ThrottledLog(log, window_s=60.0)
SHELF_CHECK_S = 10.0  # a shelved alarm comes back at most this late
COMMAND_CHECK_S = 1.0  # a command's deadline is noticed at most this late


async def rollup_once(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Roll up every complete dirty minute, in bounded transactions."""
    total = 0
    while True:
        async with sessionmaker() as session, session.begin():
            done = await roll_up(session, now=datetime.now(UTC))
        total += done
        if done == 0:
            return total


async def retention_once(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> dict[str, int]:
    """Apply retention once: per table, a bounded number of chunks per transaction until none
    is left past its age. Returns the chunks dropped per table."""
    dropped: dict[str, int] = {}
    for step in RETENTION_STEPS:
        while True:
            result = await _retention_step(sessionmaker, settings, step)
            for table, count in result.dropped.items():
                dropped[table] = dropped.get(table, 0) + count
            if result.skipped or not any(result.dropped.values()):
                break
    if any(dropped.values()):
        log.info("retention dropped chunks: %s", dropped)
    return dropped


async def _retention_step(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, step: str
) -> RetentionResult:
    async with sessionmaker() as session, session.begin():
        return await apply_retention(
            session,
            raw_age=timedelta(days=settings.raw_retention_days),
            rollup_age=timedelta(days=settings.rollup_retention_days),
            only=step,
            max_chunks=settings.retention_chunks_per_step,
        )


async def unshelve_once(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Return alarms whose shelf has run out."""
    async with sessionmaker() as session, session.begin():
        return await unshelve_expired(session, now=datetime.now(UTC))


async def commands_once(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Move every command whose state has run out (expired, outcome unknown, unverified)."""
    async with sessionmaker() as session, session.begin():
        return await sweep_commands(session, datetime.now(UTC))


async def health_once(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Score every site's complete days not yet scored, a week per transaction."""
    async with sessionmaker() as session:
        sites = await site_ids(session)
    total = 0
    for site_id in sites:
        try:
            total += await _health_site(sessionmaker, site_id)
        except ValueError as refused:  # one site's bad setting must not stop the others
            JOB_LOG.warning(f"health:{site_id}", f"health job skips site {site_id}: {refused}")
    return total


async def _health_site(sessionmaker: async_sessionmaker[AsyncSession], site_id: int) -> int:
    total = 0
    while True:
        async with sessionmaker() as session, session.begin():
            done = await score_site_days(
                session, site_id=site_id, now=datetime.now(UTC), settings=WatchSettings()
            )
        total += done
        if done == 0:
            return total


async def watchdog_once(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> int:
    """Raise or clear site_offline / edge_silent from every edge's data age."""
    async with sessionmaker() as session, session.begin():
        return await sweep_watchdog(
            session, now=datetime.now(UTC), limit_s=settings.watchdog_data_age_s
        )


async def _every(interval_s: float, name: str, job: Callable[[], Awaitable[object]]) -> None:
    while True:
        try:
            await job()
        except Exception as exc:
            if not database_unavailable(exc):
                log.exception("background job %s failed; retrying in %.0f s", name, interval_s)
            else:  # an outage: one line now and then, not a traceback a second per job
                kind, first_line = failure_kind(exc)
                JOB_LOG.warning(
                    f"{name}:{kind}",
                    f"background job {name} waits for the database ({kind}: {first_line})",
                )
        await asyncio.sleep(interval_s)


class Jobs:
    """The background tasks of one app process."""

    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start the periodic jobs (no-op when disabled in settings)."""
        if not self.settings.jobs_enabled:
            return
        self.tasks = [
            asyncio.create_task(
                _every(
                    self.settings.rollup_interval_s,
                    "rollup",
                    lambda: rollup_once(self.sessionmaker),
                )
            ),
            asyncio.create_task(
                _every(SHELF_CHECK_S, "unshelve", lambda: unshelve_once(self.sessionmaker))
            ),
            asyncio.create_task(
                _every(COMMAND_CHECK_S, "commands", lambda: commands_once(self.sessionmaker))
            ),
            asyncio.create_task(
                _every(
                    self.settings.health_interval_s,
                    "health",
                    lambda: health_once(self.sessionmaker),
                )
            ),
            asyncio.create_task(
                _every(
                    self.settings.watchdog_interval_s,
                    "watchdog",
                    lambda: watchdog_once(self.sessionmaker, self.settings),
                )
            ),
            asyncio.create_task(
                _every(
                    self.settings.notify_interval_s,
                    "notify",
                    lambda: notify_once(self.sessionmaker, self.settings),
                )
            ),
            asyncio.create_task(
                _every(
                    self.settings.retention_interval_s,
                    "retention",
                    lambda: retention_once(self.sessionmaker, self.settings),
                )
            ),
        ]

    async def stop(self) -> None:
        """Cancel the tasks and wait for them."""
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
