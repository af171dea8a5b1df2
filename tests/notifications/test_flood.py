"""Flood and chatter control: more than 10 alarms in 10 minutes at a site, or one alarm raised
3 times within a minute, give each recipient one digest, sent when the interval ends, through a
real SMTP server (the clock is the test's)."""

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.alarms.repository import AlarmSource, clear_alarm
from app.notifications.flood import FloodPolicy
from app.notifications.worker import notify_once
from tests.db import psycopg_dsn, query_rows
from tests.notifications.receivers import smtp_server
from tests.notifications.test_escalation import settings_for
from tests.notifications.world import (
    first_module,
    raise_cell_alarm,
    recipient,
    rule,
    site_on,
)

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


async def test_a_chattering_alarm_gives_one_digest_after_its_third_raise_within_a_minute(
    notify_engine: AsyncEngine, notify_db: str
) -> None:
    dsn = psycopg_dsn(notify_db)
    site = await site_on(notify_engine)
    module = await first_module(notify_engine, site)
    watcher = recipient(dsn, f"chatter-{site.code}", email="chatter@example.com")
    rule(
        dsn,
        users=[watcher.user_id],
        channels=["email"],
        sites=[site.site_id],
        events=("raised", "cleared"),
    )
    source = AlarmSource(site.site_id, module.rack_id, module.module_id)
    for _ in range(4):  # raised and cleared four times in a few seconds
        await raise_cell_alarm(notify_engine, site, code="chatter_fault")
        async with AsyncSession(notify_engine) as session, session.begin():
            await clear_alarm(session, source, code="chatter_fault", ts=datetime.now(UTC))
    await raise_cell_alarm(notify_engine, site, code="steady_fault")
    makers = async_sessionmaker(notify_engine, expire_on_commit=False)
    with smtp_server() as (mailbox, port):
        settings = settings_for(notify_db, port)
        await notify_once(makers, settings)
        # A long subject comes folded: compare it unfolded.
        alone = sorted(" ".join(m["Subject"].split()) for _, m in mailbox.snapshot())
        # Raises 1 and 2 and their clears alone; from the third raise on, the digest.
        assert [s.split(":")[0] for s in alone] == [
            "[high] Chatter fault cleared",
            "[high] Chatter fault cleared",
            "[high] Chatter fault raised",
            "[high] Chatter fault raised",
            "[high] Steady fault raised",
        ]
        send_at = query_rows(
            dsn,
            "SELECT next_attempt_at FROM notification_outbox WHERE digest_key LIKE %s",
            f"chatter:{site.site_id}:%",
        )
        assert len(send_at) == 1  # one digest for the site and interval
        await notify_once(makers, settings, lambda: send_at[0][0] + timedelta(seconds=1))
        digests = [m for _, m in mailbox.snapshot() if m["Subject"].startswith("[chatter]")]
    assert len(digests) == 1
    body = digests[0].get_body(preferencelist=("plain",))
    assert body is not None
    text = str(body.get_content())
    assert text.startswith(f"Chattering alarms at {site.name}")
    assert (text.count("Chatter fault raised"), text.count("Chatter fault cleared")) == (2, 2)
    assert "Steady fault" not in text
