"""Apparent self-discharge trended weekly, and its low-priority alarm, on the real database.

A one-module site: on leaking days every cell but cell 3 balances all day, so cell 3 reads
0.2 A x (1 - 0) = 200 mA above the module's typical cell; on clean days nothing balances.
"""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.alarms.catalogue import describe
from app.core.enums import AlarmPriority
from app.health.job import score_site_days
from app.health.leakage import SELF_DISCHARGE, alarm_level_ma, cell_weeks
from app.health.queries import latest_watch_day
from app.health.watchlist import WatchSettings
from app.jobs import health_once
from app.telemetry.repository import copy_module_samples
from tests.factories import committed_device_site, make_site, module_ids, module_sample
from tests.health.drifting import site_with_a_drifting_cell

DAY0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
CELLS = [3.30 + 0.001 * (i % 4) for i in range(16)]
LEAKING_CELL = 3
ALL_BUT_3 = (1 << 16) - 1 - (1 << (LEAKING_CELL - 1))


async def one_module_site(session: AsyncSession, leaking_days: range, days: int) -> Any:
    """A site whose module has `days` days of samples, cell 3 leaking on `leaking_days`."""
    site = await make_site(session, racks=1, modules_per_rack=1)
    module_id = (await module_ids(session, site))[0]
    rows = [
        module_sample(
            module_id,
            DAY0 + timedelta(days=d, hours=h),
            CELLS,
            current_a=-10.0,
            balancing=ALL_BUT_3 if d in leaking_days else 0,
        )
        for d in range(days)
        for h in (3, 15)
    ]
    await copy_module_samples(session, rows)
    return site, module_id


async def run_job(session: AsyncSession, site_id: int, through_day: int) -> None:
    """The health job as the app runs it, until every day to `through_day` is scored."""
    now = DAY0 + timedelta(days=through_day + 1, hours=1)
    while await score_site_days(session, site_id=site_id, now=now, settings=WatchSettings()):
        pass


async def alarms(session: AsyncSession, site_id: int) -> list[Any]:
    result = await session.execute(
        text(
            "SELECT module_id, cell_index, priority, state, value, threshold, message, raised_at,"
            " cleared_at, occurrences FROM alarm WHERE site_id = :s AND code = :c"
        ),
        {"s": site_id, "c": SELF_DISCHARGE},
    )
    return list(result)


async def test_a_week_above_the_level_raises_one_low_alarm_that_clears_when_it_stops(
    session: AsyncSession,
) -> None:
    site, module_id = await one_module_site(session, range(0, 8), days=14)
    await run_job(session, site.site_id, through_day=13)
    [alarm] = await alarms(session, site.site_id)
    assert (alarm.module_id, alarm.cell_index) == (module_id, LEAKING_CELL)
    assert alarm.priority == AlarmPriority.LOW == describe(SELF_DISCHARGE).priority
    assert (alarm.value, alarm.threshold) == (pytest.approx(200.0), 20.0)
    assert f"cell {LEAKING_CELL} leaks about 200 mA" in alarm.message
    # raised when the fourth scored day (the least a weekly level needs) was complete
    assert alarm.raised_at == DAY0 + timedelta(days=4)
    assert alarm.occurrences == 1  # eight days above the level are one standing condition
    # the median of days 5..11 has four clean days of seven: cleared at the end of day 11
    assert alarm.cleared_at == DAY0 + timedelta(days=12)
    assert alarm.state == "rtn_unacked"


async def test_a_site_sets_its_own_level(session: AsyncSession) -> None:
    site, _ = await one_module_site(session, range(0, 7), days=7)
    await session.execute(
        text("UPDATE site SET settings = '{\"self_discharge_alarm_ma\": 250}' WHERE id = :s"),
        {"s": site.site_id},
    )
    await run_job(session, site.site_id, through_day=6)
    assert await alarms(session, site.site_id) == []


@pytest.mark.parametrize("value", ["20", 0, -5, True, [20], float("nan"), float("inf")])
def test_a_bad_level_is_refused_naming_the_site_setting_and_value(value: object) -> None:
    expected = (
        f"site harbour: settings.self_discharge_alarm_ma = {value!r} is not a positive, "
        "finite number of mA"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        alarm_level_ma("harbour", {"self_discharge_alarm_ma": value})


def test_without_a_setting_the_level_is_the_catalogues() -> None:
    assert alarm_level_ma("harbour", {}) == describe(SELF_DISCHARGE).threshold == 20.0
    assert alarm_level_ma("harbour", {"self_discharge_alarm_ma": 35}) == 35.0


async def test_the_job_refuses_a_site_with_a_bad_level(session: AsyncSession) -> None:
    site, _ = await one_module_site(session, range(0, 1), days=1)
    await session.execute(
        text('UPDATE site SET settings = \'{"self_discharge_alarm_ma": "high"}\' WHERE id = :s'),
        {"s": site.site_id},
    )
    with pytest.raises(ValueError, match="self_discharge_alarm_ma = 'high'"):
        await run_job(session, site.site_id, through_day=0)


async def test_the_weekly_trend_is_the_median_of_each_calendar_week(
    session: AsyncSession,
) -> None:
    site, module_id = await one_module_site(session, range(0, 5), days=12)
    await run_job(session, site.site_id, through_day=11)
    weeks = await cell_weeks(
        session, module_id=module_id, cell=LEAKING_CELL, last=DAY0 + timedelta(days=11)
    )
    # week 1: five leaking days and two clean ones; week 2: five clean days so far
    assert [(w.week, w.days) for w in weeks] == [(DAY0, 7), (DAY0 + timedelta(days=7), 5)]
    assert [w.median_ma for w in weeks] == pytest.approx([200.0, 0.0])
    other = await cell_weeks(session, module_id=module_id, cell=1, last=DAY0 + timedelta(days=11))
    assert [w.median_ma for w in other] == [pytest.approx(0.0)] * 2


async def test_the_app_job_skips_a_site_with_a_bad_level_and_scores_the_others(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    bad = await committed_device_site(engine)
    good, last = await site_with_a_drifting_cell(engine)  # ranked by health_once
    async with AsyncSession(engine) as session, session.begin():
        await session.execute(
            text("UPDATE site SET settings = '{\"self_discharge_alarm_ma\": -1}' WHERE id = :s"),
            {"s": bad.site_id},
        )
        await copy_module_samples(
            session, [module_sample(bad.module_ids[0], last, CELLS, current_a=-10.0)]
        )
    try:
        with caplog.at_level("WARNING", logger="app.jobs"):
            await health_once(async_sessionmaker(engine))
        async with AsyncSession(engine) as session:
            ranked = await latest_watch_day(session, site_id=good.site_id)
            refused = await latest_watch_day(session, site_id=bad.site_id)
        assert (ranked, refused) == (last, None)
        assert f"health job skips site {bad.site_id}: site {bad.code}: settings." in caplog.text
    finally:
        async with AsyncSession(engine) as session, session.begin():
            await session.execute(
                text("UPDATE site SET settings = '{}' WHERE id = :s"), {"s": bad.site_id}
            )
