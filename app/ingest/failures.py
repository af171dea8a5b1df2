"""An alarm of the backend's own when storing a site's batches keeps failing.

A batch the database refuses (a table locked past the statement timeout, a full disk, a broken
permission) is answered 5xx and kept in the edge's spool, so nothing is lost, but nobody sees
the site's data either. After `alarm_after` failed batches of a site in a row, this process
raises ingest_failing on the site (through the normal lifecycle and catalogue, so it is
notified like any other alarm); the next batch it stores for the site clears it, in the same
transaction as the batch. The count is per process: an outage of the whole database cannot be
recorded in it, and the watchdog's site_offline covers what follows.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.alarms.catalogue import describe
from app.alarms.repository import AlarmSource, clear_alarm, raise_alarm
from app.core.errors import failure_kind

INGEST_FAILING = "ingest_failing"
log = logging.getLogger("app.ingest.failures")


@dataclass(slots=True)
class IngestFailures:
    """Failed batches in a row per site, in this process."""

    alarm_after: int
    in_a_row: dict[int, int] = field(default_factory=dict)

    async def failed(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        site_id: int,
        error: BaseException,
        now: datetime,
    ) -> None:
        """Count a batch that could not be stored; raise the alarm once there are enough."""
        count = self.in_a_row[site_id] = self.in_a_row.get(site_id, 0) + 1
        if count < self.alarm_after:
            return
        kind, first_line = failure_kind(error)
        title = describe(INGEST_FAILING).title
        message = f"{title}: {count} batches in a row failed to store ({kind}: {first_line})"
        try:
            async with sessionmaker() as session, session.begin():
                await raise_alarm(
                    session,
                    AlarmSource(site_id),
                    code=INGEST_FAILING,
                    priority=describe(INGEST_FAILING).priority,
                    message=message,
                    ts=now,
                    value=float(count),
                    threshold=float(self.alarm_after),
                )
        except Exception:  # the database refuses the alarm too: the log is all that is left
            log.exception("could not raise %s for site %s", INGEST_FAILING, site_id)

    async def stored(self, session: AsyncSession, site_id: int, now: datetime) -> None:
        """A batch of the site is being stored: clear the alarm with it, if this process
        counted failures."""
        if self.in_a_row.pop(site_id, 0):
            await clear_alarm(session, AlarmSource(site_id), code=INGEST_FAILING, ts=now)
