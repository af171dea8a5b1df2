"""Rosters as a rule's recipients and an escalation tier's target, resolved when each is told
(with the test's clock, and no live backend whose worker could send first)."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from app.notifications.worker import notify_once
from tests.db import psycopg_dsn, query_rows
from tests.notifications.receivers import smtp_server
from tests.notifications.test_escalation import alarm_id, settings_for
from tests.notifications.world import raise_cell_alarm, recipient, rule, site_on


def berlin(*, weeks: int, weekday: int, hour: int) -> datetime:
    """A wall-clock time in Berlin on a weekday of the week `weeks` from this one, in UTC."""
    today = datetime.now(ZoneInfo("Europe/Berlin")).date()
    day = today + timedelta(weeks=weeks, days=weekday - today.weekday())
    local = datetime.combine(day, time(hour), tzinfo=ZoneInfo("Europe/Berlin"))
    return local.astimezone(UTC)


async def test_a_rule_and_a_tier_tell_whoever_is_on_call_when_each_is_told(
    notify_engine: AsyncEngine, notify_db: str
) -> None:
    dsn = psycopg_dsn(notify_db)
    site = await site_on(notify_engine)
    day = recipient(dsn, f"day-{site.code}", email="day@example.com")
    night = recipient(dsn, f"night-{site.code}", email="night@example.com")
    roster_id = query_rows(
        dsn,
        "INSERT INTO oncall_roster (name, time_zone) VALUES (%s, 'Europe/Berlin') RETURNING id",
        f"desk-{site.code}",
    )[0][0]
    query_rows(
        dsn,
        "INSERT INTO oncall_shift (roster_id, user_id, weekday, starts, ends) VALUES "
        "(%s, %s, 0, '09:00', '17:00'), (%s, %s, 0, '17:00', '09:00') RETURNING id",
        roster_id,
        day.user_id,
        roster_id,
        night.user_id,
    )
    rule(dsn, users=[], rosters=[roster_id], channels=["email"], sites=[site.site_id])
    makers = async_sessionmaker(notify_engine, expire_on_commit=False)
    # Told at once on a Monday at 10:00, escalated on the Tuesday at 03:00 (past midnight:
    # still Monday's night shift).
    monday_10_berlin = berlin(weeks=1, weekday=0, hour=10)
    tuesday_3_berlin = berlin(weeks=1, weekday=1, hour=3)
    with smtp_server() as (mailbox, port):
        settings = settings_for(notify_db, port)
        await raise_cell_alarm(notify_engine, site)
        await alarm_id(notify_engine, site, "cell_ov_alarm")
        await notify_once(makers, settings, lambda: monday_10_berlin)
        assert [to for to, _ in mailbox.snapshot()] == [["day@example.com"]]
        # The tier comes now, so the Monday sweep above was told by the first rule alone.
        rule(
            dsn,
            users=[],
            rosters=[roster_id],
            channels=["email"],
            sites=[site.site_id],
            escalate_after_s=60,
        )
        await notify_once(makers, settings, lambda: tuesday_3_berlin)
        mails = mailbox.snapshot()
    assert [to for to, _ in mails] == [["day@example.com"], ["night@example.com"]]
    assert "unacknowledged for 1 min" in mails[1][1]["Subject"]
