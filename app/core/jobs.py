"""Background jobs in each app process: rollups, retention, shelf expiry, command timeouts.

All are safe with several processes: rollups claim work with SKIP LOCKED, retention takes an
advisory lock, shelf and command transitions are conditional UPDATEs. A failing run is logged
with its context and retried next interval.
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
from app.telemetry.retention import STEPS as RETENTION_STEPS
from app.telemetry.retention import apply_retention
from app.telemetry.rollups import roll_up

log = logging.getLogger("app.jobs")
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
) -> None:
    """Apply retention once, a table per transaction."""
    dropped: dict[str, int] = {}
    for step in RETENTION_STEPS:
        async with sessionmaker() as session, session.begin():
            result = await apply_retention(
                session,
                raw_age=timedelta(days=settings.raw_retention_days),
                rollup_age=timedelta(days=settings.rollup_retention_days),
                only=step,
            )
        dropped |= result.dropped
    if any(dropped.values()):
        log.info("retention dropped chunks: %s", dropped)


async def unshelve_once(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Return alarms whose shelf has run out."""
    async with sessionmaker() as session, session.begin():
        return await unshelve_expired(session, now=datetime.now(UTC))


async def commands_once(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Move every command whose state has run out (expired, outcome unknown, unverified)."""
    async with sessionmaker() as session, session.begin():
        return await sweep_commands(session, datetime.now(UTC))


async def _every(interval_s: float, name: str, job: Callable[[], Awaitable[object]]) -> None:
    while True:
        try:
            await job()
        except Exception:
            log.exception("background job %s failed; retrying in %.0f s", name, interval_s)
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
