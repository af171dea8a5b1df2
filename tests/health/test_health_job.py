"""The health job on the real database: day scores as defined, exclusions, once per day, locks."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.health.job import HEALTH_LOCK_CLASS, score_site_days
from app.health.robust import deviation_scores
from app.health.scoring import score_day
from app.health.watchlist import WatchSettings
from app.telemetry.repository import copy_module_samples
from tests.factories import make_site, module_ids, module_sample

DAY0 = datetime(2026, 3, 2, tzinfo=UTC)
BASE = [3.30 + 0.001 * (i % 4) for i in range(16)]  # a module of 16 cells, 0-3 mV apart


def cells(changes: dict[int, float]) -> list[float]:
    """The base module with some cells (0-based) moved by the given volts."""
    return [v + changes.get(i, 0.0) for i, v in enumerate(BASE)]


LOAD = [cells({2: -0.030}), cells({2: -0.025, 5: 0.004}), cells({2: -0.040})]
REST = [cells({7: -0.006}), cells({})]


async def stored_scores(
    session: AsyncSession, module_id: int
) -> tuple[int, int, list[float], list[float]]:
    row = await session.execute(
        text(
            "SELECT load_samples, rest_samples, load_score, rest_score FROM cell_score_1d "
            "WHERE module_id = :m AND day = :d"
        ),
        {"m": module_id, "d": DAY0},
    )
    n_load, n_rest, load, rest = row.one()
    return n_load, n_rest, load, rest


def mean_scores(samples: list[list[float]]) -> list[float]:
    """The pure definition, on the voltages as a REAL column holds them."""
    per_sample = [deviation_scores([float(np.float32(round(v, 4))) for v in s]) for s in samples]
    return [sum(column) / len(column) for column in zip(*per_sample, strict=True)]


async def write_day(session: AsyncSession, module_id: int) -> None:
    at = [DAY0 + timedelta(hours=h) for h in range(1, 12)]
    rows = [
        module_sample(module_id, at[i], v, current_a=-100.0, balancing=0)
        for i, v in enumerate(LOAD)
    ]  # 100 A >= 0.2 C of 280 Ah: under load
    rows += [
        module_sample(module_id, at[3 + i], v, current_a=0.0, balancing=0)
        for i, v in enumerate(REST)
    ]
    rows.append(module_sample(module_id, at[6], cells({0: 0.5}), current_a=0.0, balancing=1))
    rows.append(module_sample(module_id, at[7], cells({0: 0.5}), current_a=20.0, balancing=0))
    rows.append(
        module_sample(
            module_id, DAY0 + timedelta(days=1), cells({0: 0.5}), current_a=0.0, balancing=0
        )
    )  # the next day
    await copy_module_samples(session, rows)


async def test_a_days_scores_are_the_mean_robust_deviation_per_regime(
    session: AsyncSession,
) -> None:
    site = await make_site(session)
    module_id = (await module_ids(session, site))[0]
    await write_day(session, module_id)
    await score_day(session, site_id=site.site_id, day=DAY0)
    n_load, n_rest, load, rest = await stored_scores(session, module_id)
    # balancing, between-regime (20 A) and next-day samples are left out
    assert (n_load, n_rest) == (3, 2)
    assert load == pytest.approx(mean_scores(LOAD), rel=1e-5)
    assert rest == pytest.approx(mean_scores(REST), rel=1e-5)
    assert max(load) == load[2]  # the sagging cell stands out under load


async def test_isolated_samples_are_left_out(session: AsyncSession) -> None:
    site = await make_site(session)
    module_id = (await module_ids(session, site))[0]
    await write_day(session, module_id)
    await session.execute(
        text(
            "INSERT INTO isolation (site_id, rack_id, module_id, reason, isolated_by, onset_at,"
            " returned_at) SELECT :s, rack_id, id, 'maintenance', 'operator', :on, :off "
            "FROM module WHERE id = :m"
        ),
        {
            "s": site.site_id,
            "m": module_id,
            "on": DAY0 + timedelta(minutes=30),
            "off": DAY0 + timedelta(hours=2, minutes=30),
        },
    )
    await score_day(session, site_id=site.site_id, day=DAY0)
    n_load, _, load, _ = await stored_scores(session, module_id)
    assert n_load == 1  # the samples at 01:00 and 02:00 fell in the maintenance
    assert load == pytest.approx(mean_scores(LOAD[2:]), rel=1e-5)


async def test_each_complete_day_is_scored_once(session: AsyncSession) -> None:
    site = await make_site(session)
    module_id = (await module_ids(session, site))[0]
    await write_day(session, module_id)
    now = DAY0 + timedelta(days=2, minutes=5)  # day 1 is not complete until 00:10 on day 2
    first = await score_site_days(session, site_id=site.site_id, now=now, settings=WatchSettings())
    again = await score_site_days(session, site_id=site.site_id, now=now, settings=WatchSettings())
    later = await score_site_days(
        session, site_id=site.site_id, now=now + timedelta(hours=1), settings=WatchSettings()
    )
    assert (first, again, later) == (1, 0, 1)


async def test_a_site_held_by_another_process_is_skipped(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    site = await make_site(session)
    module_id = (await module_ids(session, site))[0]
    await write_day(session, module_id)
    now = DAY0 + timedelta(days=1, hours=1)
    async with engine.connect() as other, other.begin():
        await other.execute(
            text("SELECT pg_advisory_xact_lock(:c, :s)"),
            {"c": HEALTH_LOCK_CLASS, "s": site.site_id},
        )
        held = await score_site_days(
            session, site_id=site.site_id, now=now, settings=WatchSettings()
        )
    freed = await score_site_days(session, site_id=site.site_id, now=now, settings=WatchSettings())
    assert (held, freed) == (0, 1)


async def test_apparent_leakage_is_the_bleed_current_times_the_missing_duty(
    session: AsyncSession,
) -> None:
    """Cell 1 is never bled and cell 3 half the time while the rest bleed throughout: with the
    0.2 A resistor cell 1 leaks 200 mA more than the module's typical cell, cell 3 100 mA."""
    site = await make_site(session)
    module_id = (await module_ids(session, site))[0]
    everyone_but_1 = (1 << 16) - 1 - 1
    bits = [everyone_but_1, everyone_but_1 - 0b100, everyone_but_1, everyone_but_1 - 0b100]
    rows = [
        module_sample(module_id, DAY0 + timedelta(hours=h + 1), BASE, current_a=-10.0, balancing=b)
        for h, b in enumerate(bits)
    ]
    await copy_module_samples(session, rows)
    await score_day(session, site_id=site.site_id, day=DAY0)
    leak = (
        await session.execute(
            text("SELECT leak_ma FROM cell_score_1d WHERE module_id = :m"), {"m": module_id}
        )
    ).scalar_one()
    assert leak == pytest.approx([200.0, 0.0, 100.0] + [0.0] * 13)


def mean_offsets_mv(samples: list[list[float]]) -> list[float]:
    """Each cell's mean voltage minus its module's median, in mV, as a REAL column holds them."""
    stored = [np.array([np.float32(round(v, 4)) for v in s], dtype=np.float64) for s in samples]
    per_sample = [1000 * (s - np.median(s)) for s in stored]
    return list(np.mean(per_sample, axis=0))


async def test_offsets_from_the_median_are_kept_at_rest_and_while_discharging_only(
    session: AsyncSession,
) -> None:
    site = await make_site(session)
    module_id = (await module_ids(session, site))[0]
    at = [DAY0 + timedelta(hours=h) for h in range(1, 8)]
    # positive current discharges: LOAD[1] charges, and charging would cancel a sag
    currents = [100.0, -100.0, 100.0]
    rows = [
        module_sample(module_id, at[i], v, current_a=a, balancing=0)
        for i, (v, a) in enumerate(zip(LOAD, currents, strict=True))
    ]
    rows += [
        module_sample(module_id, at[3 + i], v, current_a=0.0, balancing=0)
        for i, v in enumerate(REST)
    ]
    rows.append(module_sample(module_id, at[6], cells({2: -0.5}), current_a=100.0, balancing=1))
    await copy_module_samples(session, rows)
    await score_day(session, site_id=site.site_id, day=DAY0)
    row = await session.execute(
        text("SELECT rest_offset_mv, discharge_offset_mv FROM cell_score_1d WHERE module_id = :m"),
        {"m": module_id},
    )
    rest, discharge = row.one()
    assert rest == pytest.approx(mean_offsets_mv(REST), abs=1e-3)
    assert discharge == pytest.approx(mean_offsets_mv([LOAD[0], LOAD[2]]), abs=1e-3)
    assert discharge[2] == pytest.approx(-34.0, abs=0.1)  # the sagging cell: 29 and 39 mV low
