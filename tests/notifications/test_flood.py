"""Flood control: more than 10 alarms in 10 minutes at a site give each recipient one digest,
sent when the interval ends, through a real SMTP server (the clock is the test's)."""

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from app.notifications.flood import FloodPolicy
from app.notifications.worker import notify_once
from tests.db import psycopg_dsn
from tests.notifications.receivers import smtp_server
from tests.notifications.test_escalation import settings_for
from tests.notifications.world import raise_cell_alarm, recipient, rule, site_on

FLOOD = 14


async def test_a_flood_gives_one_digest_per_interval_and_a_quiet_site_a_message_each(
    notify_engine: AsyncEngine, notify_db: str
) -> None:
    dsn = psycopg_dsn(notify_db)
    flooded, quiet = await site_on(notify_engine), await site_on(notify_engine)
    watcher = recipient(dsn, "flood-watcher", email="watch@example.com")
    rule(dsn, users=[watcher.user_id], channels=["email"], sites=[flooded.site_id, quiet.site_id])
    for cell in range(FLOOD):
        await raise_cell_alarm(notify_engine, flooded, cell=cell, code=f"flood_fault_{cell}")
    for cell in range(3):
        await raise_cell_alarm(notify_engine, quiet, cell=cell, code=f"quiet_fault_{cell}")
    makers = async_sessionmaker(notify_engine, expire_on_commit=False)
    now = datetime.now(UTC)
    interval_end = FloodPolicy(10, 600).interval(now)[1]
    with smtp_server() as (mailbox, port):
        settings = settings_for(notify_db, port)
        await notify_once(makers, settings)  # the wall clock: the messages are queued now
        subjects = sorted(m["Subject"] for _, m in mailbox.snapshot())
        assert len(subjects) == 3  # the quiet site: one each; the flood waits for its digest
        assert all("Quiet fault" in s for s in subjects)
        await notify_once(makers, settings, lambda: interval_end + timedelta(seconds=1))
        await notify_once(makers, settings, lambda: interval_end + timedelta(seconds=2))
        digests = [m for _, m in mailbox.snapshot() if m["Subject"].startswith("[flood]")]
    assert len(digests) == 1
    body = digests[0].get_body(preferencelist=("plain",))
    assert body is not None
    text = str(body.get_content())
    assert text.count("raised at") == FLOOD  # every flooded alarm, once
    since = FloodPolicy(10, 600).interval(now)[0]
    assert (
        digests[0]["Subject"] == f"[flood] Alarm digest for {flooded.name} since {since:%H:%M} UTC"
    )
