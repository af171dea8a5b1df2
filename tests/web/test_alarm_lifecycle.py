"""Alarm lifecycle in the database: a shelf runs out by itself; a cleared alarm stays shelved."""

from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms.lifecycle import Actor, acknowledge, shelve, unshelve_expired
from app.alarms.repository import AlarmSource, clear_alarm, raise_alarm
from tests.factories import make_site
from tests.wire import T0

OPERATOR = Actor("tester", "127.0.0.1")


async def _alarm(session: AsyncSession) -> tuple[int, AlarmSource]:
    site = await make_site(session)
    source = AlarmSource(site.site_id)
    await raise_alarm(session, source, code="insulation_low", priority=2, message="low", ts=T0)
    alarm_id = (await session.execute(text("SELECT max(id) FROM alarm"))).scalar_one()
    return alarm_id, source


async def _state(session: AsyncSession, alarm_id: int) -> str:
    query = text("SELECT state FROM alarm WHERE id = :id")
    return str((await session.execute(query, {"id": alarm_id})).scalar_one())


async def test_an_expired_shelf_returns_the_alarm(session: AsyncSession) -> None:
    alarm_id, _ = await _alarm(session)
    await shelve(session, alarm_id, actor=OPERATOR, minutes=15, reason="known", at=T0)
    assert await unshelve_expired(session, now=T0 + timedelta(minutes=14)) == 0
    assert await _state(session, alarm_id) == "shelved"
    assert await unshelve_expired(session, now=T0 + timedelta(minutes=15)) == 1
    assert await _state(session, alarm_id) == "unacked"


async def test_an_alarm_that_clears_while_shelved_comes_back_cleared(session: AsyncSession) -> None:
    alarm_id, source = await _alarm(session)
    await acknowledge(session, alarm_id, actor=OPERATOR, note="", at=T0)
    await shelve(session, alarm_id, actor=OPERATOR, minutes=15, reason="known", at=T0)
    assert (
        await clear_alarm(session, source, code="insulation_low", ts=T0 + timedelta(minutes=1)) == 1
    )
    assert await _state(session, alarm_id) == "shelved"
    await unshelve_expired(session, now=T0 + timedelta(hours=1))
    assert await _state(session, alarm_id) == "normal"  # acknowledged before, and now cleared


async def test_unacknowledged_cleared_alarm_needs_an_ack_after_its_shelf(
    session: AsyncSession,
) -> None:
    alarm_id, source = await _alarm(session)
    await shelve(session, alarm_id, actor=OPERATOR, minutes=15, reason="known", at=T0)
    await clear_alarm(session, source, code="insulation_low", ts=T0 + timedelta(minutes=1))
    await unshelve_expired(session, now=T0 + timedelta(hours=1))
    assert await _state(session, alarm_id) == "rtn_unacked"
