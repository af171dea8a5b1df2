"""Escalation tiers with an injected clock, through a real SMTP server; acknowledging,
shelving or clearing stops them; alarms suppressed by design notify nobody."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.alarms.lifecycle import Actor, acknowledge, shelve
from app.alarms.repository import AlarmSource, clear_alarm
from app.config import Settings
from app.notifications.worker import notify_once
from tests.db import psycopg_dsn, query_rows
from tests.factories import DeviceSite
from tests.notifications.receivers import smtp_server
from tests.notifications.world import first_module, raise_cell_alarm, recipient, rule, site_on

OPERATOR = Actor("test-operator", None)


def settings_for(database_url: str, smtp_port: int) -> Settings:
    """The worker's settings: the test database and SMTP server."""
    return Settings(
        database_url=database_url, smtp_port=smtp_port, public_url="http://ridethrough.example"
    )


async def alarm_id(engine: AsyncEngine, site: DeviceSite, code: str) -> tuple[int, datetime]:
    """The site's alarm of this code, and when it was raised."""
    async with AsyncSession(engine) as session:
        sql = text("SELECT id, raised_at FROM alarm WHERE site_id = :s AND code = :c")
        row = (await session.execute(sql, {"s": site.site_id, "c": code})).one()
    return row[0], row[1]


def at(start: datetime, minutes: float) -> Callable[[], datetime]:
    """A clock stopped `minutes` after `start`."""
    return lambda: start + timedelta(minutes=minutes)


async def test_a_tier_is_told_once_after_n_minutes_and_acknowledging_stops_the_next(
    notify_engine: AsyncEngine, notify_db: str
) -> None:
    dsn = psycopg_dsn(notify_db)
    site = await site_on(notify_engine)
    first = recipient(dsn, "first-line", email="first@example.com")
    second = recipient(dsn, "second-line", email="second@example.com")
    third = recipient(dsn, "third-line", email="third@example.com")
    rule(dsn, users=[first.user_id], channels=["email"], sites=[site.site_id])
    tiers = {5: second, 30: third}
    for minutes, who in tiers.items():
        rule(
            dsn,
            users=[who.user_id],
            channels=["email"],
            sites=[site.site_id],
            escalate_after_s=minutes * 60,
        )
    makers = async_sessionmaker(notify_engine, expire_on_commit=False)
    with smtp_server() as (mailbox, port):
        settings = settings_for(notify_db, port)
        await raise_cell_alarm(notify_engine, site)
        the_alarm, raised = await alarm_id(notify_engine, site, "cell_ov_alarm")
        await notify_once(makers, settings, at(raised, 4))
        assert [to for to, _ in mailbox.snapshot()] == [["first@example.com"]]
        await notify_once(makers, settings, at(raised, 6))
        await notify_once(makers, settings, at(raised, 7))  # told once, not every sweep
        mails = mailbox.snapshot()
        assert [to for to, _ in mails] == [["first@example.com"], ["second@example.com"]]
        assert "unacknowledged for 5 min" in mails[1][1]["Subject"]
        async with makers() as session, session.begin():
            await acknowledge(session, the_alarm, actor=OPERATOR, note="", at=raised)
        await notify_once(makers, settings, at(raised, 31))
        assert len(mailbox.snapshot()) == 2  # acknowledged: the third tier is never told


async def test_shelved_and_cleared_alarms_stop_escalating(
    notify_engine: AsyncEngine, notify_db: str
) -> None:
    dsn = psycopg_dsn(notify_db)
    site = await site_on(notify_engine)
    pager = recipient(dsn, f"pager-{site.code}", email="pager@example.com")
    rule(dsn, users=[pager.user_id], channels=["email"], sites=[site.site_id], escalate_after_s=60)
    await raise_cell_alarm(notify_engine, site, code="shelved_fault")
    await raise_cell_alarm(notify_engine, site, code="cleared_fault")
    await raise_cell_alarm(notify_engine, site, code="standing_fault")
    shelved, raised = await alarm_id(notify_engine, site, "shelved_fault")
    module = await first_module(notify_engine, site)
    makers = async_sessionmaker(notify_engine, expire_on_commit=False)
    async with makers() as session, session.begin():
        await shelve(session, shelved, actor=OPERATOR, minutes=60, reason="known", at=raised)
        source = AlarmSource(site.site_id, module.rack_id, module.module_id)
        cleared = await clear_alarm(session, source, code="cleared_fault", ts=datetime.now(UTC))
        assert cleared == 1
    with smtp_server() as (mailbox, port):
        await notify_once(makers, settings_for(notify_db, port), at(raised, 2))
        subjects = [m["Subject"] for _, m in mailbox.snapshot()]
    assert len(subjects) == 1
    assert "Standing fault unacknowledged for 1 min" in subjects[0]


async def test_an_alarm_under_a_string_taken_out_on_purpose_notifies_nobody(
    notify_engine: AsyncEngine, notify_db: str
) -> None:
    dsn = psycopg_dsn(notify_db)
    site = await site_on(notify_engine)
    module = await first_module(notify_engine, site)
    watcher = recipient(dsn, f"watcher-{site.code}", email="watcher@example.com")
    rule(dsn, users=[watcher.user_id], channels=["email"], sites=[site.site_id])
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO isolation (site_id, rack_id, reason, isolated_by, onset_at, "
            "isolated_at) VALUES (%s, %s, 'maintenance', 'operator', now() - interval '1 h', "
            "now() - interval '1 h')",
            (site.site_id, module.rack_id),
        )
    await raise_cell_alarm(notify_engine, site, code="maintenance_fault")
    makers = async_sessionmaker(notify_engine, expire_on_commit=False)
    with smtp_server() as (mailbox, port):
        await notify_once(makers, settings_for(notify_db, port))
        assert mailbox.snapshot() == []
    handled = query_rows(
        dsn,
        "SELECT count(*) FROM alarm_notice n JOIN alarm a ON "
        "a.id = n.alarm_id WHERE a.site_id = %s AND n.fanned_out_at IS NOT NULL",
        site.site_id,
    )
    assert handled == [(1,)]  # seen and deliberately not told, not left pending


async def test_history_arriving_late_notifies_nobody(
    notify_engine: AsyncEngine, notify_db: str
) -> None:
    dsn = psycopg_dsn(notify_db)
    site = await site_on(notify_engine)
    reader = recipient(dsn, f"reader-{site.code}", email="reader@example.com")
    rule(dsn, users=[reader.user_id], channels=["email"], sites=[site.site_id])
    backfilled = datetime.now(UTC) - timedelta(hours=2)  # past the default hour
    await raise_cell_alarm(notify_engine, site, code="old_fault", ts=backfilled)
    await raise_cell_alarm(notify_engine, site, code="new_fault")
    makers = async_sessionmaker(notify_engine, expire_on_commit=False)
    with smtp_server() as (mailbox, port):
        await notify_once(makers, settings_for(notify_db, port))
        subjects = [m["Subject"] for _, m in mailbox.snapshot()]
    assert len(subjects) == 1
    assert subjects[0].startswith("[high] New fault raised")
