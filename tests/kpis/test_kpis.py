"""KPIs computed from known alarms, isolations and rollups, checked against hand arithmetic."""

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.kpis import queries
from app.kpis.efficiency import round_trip_efficiency
from tests.factories import make_site, module_ids
from tests.wire import T0

START, END = T0 - timedelta(hours=1), T0 + timedelta(hours=2)


async def _racks(session: AsyncSession, site_id: int) -> list[int]:
    result = await session.execute(
        text("SELECT id FROM rack WHERE site_id = :s ORDER BY index"), {"s": site_id}
    )
    return list(result.scalars())


@pytest.fixture
async def site(session: AsyncSession) -> tuple[int, list[int], list[int]]:
    """A 2-string site with alarms, isolations and ten minutes of rollups (see each test)."""
    applied = await make_site(session)
    racks = await _racks(session, applied.site_id)
    modules = await module_ids(session, applied)
    s = applied.site_id
    alarms = [  # one open alarm per source and code, so the second is on the other string
        (racks[0], "cell_ov_warning", T0, T0 + timedelta(seconds=60)),
        (racks[1], "cell_ov_warning", T0 + timedelta(minutes=1), T0 + timedelta(minutes=3)),
        (racks[0], "insulation_low", T0, None),
    ]
    for rack, code, raised, acked in alarms:
        await session.execute(
            text(
                "INSERT INTO alarm (site_id, rack_id, code, priority, message, raised_at, "
                "last_raised_at, acked_at, state) VALUES (:s, :r, :c, 3, 'm', :t, :t, :a, "
                "CASE WHEN CAST(:a AS timestamptz) IS NULL THEN 'unacked' ELSE 'acked' END)"
            ),
            {"s": s, "r": rack, "c": code, "t": raised, "a": acked},
        )
    isolations = [  # reason, by, isolated after s, returned after min
        ("fault", "edge_policy", 2, 10),
        ("fault", "operator", 4, 30),
        ("fault", "edge_policy", 3, 50),
        ("maintenance", "operator", 100, 5),
    ]
    for reason, by, isolate_s, return_min in isolations:
        await session.execute(
            text(
                "INSERT INTO isolation (site_id, rack_id, reason, isolated_by, fault_code, "
                "onset_at, isolated_at, returned_at) VALUES (:s, :r, :reason, :by, "
                "'cell_ov_warning', :t, :t + make_interval(secs => :i), "
                ":t + make_interval(mins => :m))"
            ),
            {
                "s": s,
                "r": racks[1],
                "reason": reason,
                "by": by,
                "t": T0,
                "i": isolate_s,
                "m": return_min,
            },
        )
    for minute in range(10):
        bucket = T0 + timedelta(minutes=minute)
        # String 1: always closed, under load (60 A > 0.2 C of 280 Ah), spread p95 = minute;
        # from 50 % SoC it charges 3 kWh a minute to 58 % (minute 4), then gives out 2.85 kWh
        # a minute back down to 48 % (minute 9).
        # String 2: open for the first 4 minutes, then closed at half its current limits.
        soc = 50.0 + 2 * min(minute, 4) - 2 * max(0, minute - 4)
        charged, discharged = 1000 + 3.0 * min(minute, 4), 500 + 2.85 * max(0, minute - 4)
        rows = [
            (racks[0], 12, -60.0, float(minute), 140.0, 140.0, soc, charged, discharged),
            (racks[1], 0 if minute < 4 else 12, -10.0, 50.0, 70.0, 70.0, None, None, None),
        ]
        for rack, closed, current, spread, charge, discharge, level, e_in, e_out in rows:
            await session.execute(
                text(
                    "INSERT INTO rack_sample_1m (rack_id, bucket, samples, current_a_avg, "
                    "spread_mv_max, spread_mv_p95, closed_samples, charge_limit_a_min, "
                    "discharge_limit_a_min, soc_pct_last, energy_charged_kwh_first, "
                    "energy_charged_kwh_last, energy_charged_kwh_gain, "
                    "energy_discharged_kwh_first, energy_discharged_kwh_last, "
                    "energy_discharged_kwh_gain) VALUES (:r, :b, 12, :i, :sp, :sp, :c, :ch, "
                    ":dis, :soc, :ein, :ein, 0, :eout, :eout, 0)"
                ),
                {
                    "r": rack,
                    "b": bucket,
                    "i": current,
                    "sp": spread,
                    "c": closed,
                    "ch": charge,
                    "dis": discharge,
                    "soc": level,
                    "ein": e_in,
                    "eout": e_out,
                },
            )
        # Module 1 balances from minute 2 to 6, its spread falling 1.5 mV a minute.
        balancing = 12 if 2 <= minute <= 6 else 0
        await session.execute(
            text(
                "INSERT INTO module_sample_1m (module_id, bucket, samples, cell_v_min, "
                "cell_v_max, cell_v_avg, spread_mv_avg, spread_mv_max, spread_mv_p95, "
                "balancing_samples) VALUES (:m, :b, 12, 3.3, 3.31, 3.305, :sp, :sp, :sp, :bal)"
            ),
            {"m": modules[0], "b": bucket, "sp": 30.0 - 1.5 * minute, "bal": balancing},
        )
    return s, racks, modules


async def test_mtta_and_time_to_isolate(
    session: AsyncSession, site: tuple[int, list[int], list[int]]
) -> None:
    s = [site[0]]
    mtta = await queries.mtta(session, s, START, END)
    assert (mtta.mean_s, mtta.count) == (90.0, 2)
    isolate = await queries.time_to_isolate(session, s, START, END)
    assert (isolate["all"].mean_s, isolate["all"].count) == (3.0, 3)  # maintenance left out
    assert (isolate["edge_policy"].mean_s, isolate["edge_policy"].count) == (2.5, 2)
    assert (isolate["operator"].mean_s, isolate["operator"].count) == (4.0, 1)


async def test_mttr_mean_median_p90(
    session: AsyncSession, site: tuple[int, list[int], list[int]]
) -> None:
    mttr = await queries.mttr(session, [site[0]], START, END)
    assert mttr.count == 3
    assert mttr.mean_s == pytest.approx(30 * 60)
    assert mttr.median_s == pytest.approx(30 * 60)
    assert mttr.p90_s == pytest.approx(46 * 60)  # 30 + 0.8 x (50 - 30) minutes


async def test_availability_time_based_and_capacity_weighted(
    session: AsyncSession, site: tuple[int, list[int], list[int]]
) -> None:
    result = await queries.availability(session, [site[0]], START, END)
    assert result.minutes == 10
    assert result.time_based == pytest.approx(1.0)  # string 1 never opened
    # (4 minutes x 1/2 + 6 minutes x (1 + 0.5)/2) / 10 minutes
    assert result.capacity_weighted == pytest.approx((4 * 0.5 + 6 * 0.75) / 10)


async def test_spread_efficiency_and_balancing(
    session: AsyncSession, site: tuple[int, list[int], list[int]]
) -> None:
    s = [site[0]]
    spread = await queries.spread_under_load(session, s, START, END)
    assert spread.minutes == 10  # string 2 at 10 A is not under load
    assert spread.p50_mv == pytest.approx(4.5)
    assert spread.p95_mv == pytest.approx(8.55)
    assert spread.max_mv == pytest.approx(9.0)
    # String 1 is back at its starting 50 % in minute 8 (minute 9 is below it): minutes 1-8
    # took in 4 x 3 = 12 kWh and gave out 4 x 2.85 = 11.4 kWh. String 2 has no SoC.
    rte = await round_trip_efficiency(session, s, START, END)
    assert (rte.charged_kwh, rte.discharged_kwh) == pytest.approx((12.0, 11.4))
    assert rte.ratio == pytest.approx(0.95)
    assert (rte.strings, rte.unbalanced) == (1, 0)
    balancing = await queries.balancing_speed(session, s, START, END)
    assert balancing.minutes == 4  # minutes 3..6 follow a balancing minute
    assert balancing.mv_per_hour == pytest.approx(90.0)


async def test_pareto_and_timeline(
    session: AsyncSession, site: tuple[int, list[int], list[int]]
) -> None:
    s = [site[0]]
    pareto = await queries.fault_pareto(session, s, START, END)
    assert [(r.code, r.alarms) for r in pareto] == [("cell_ov_warning", 2), ("insulation_low", 1)]
    assert pareto[0].cumulative_pct == pytest.approx(200 / 3)
    assert pareto[0].mttr_s == pytest.approx(30 * 60)  # its three fault isolations
    assert pareto[1].mttr_s is None
    assert pareto[1].cumulative_pct == pytest.approx(100.0)
    timeline = await queries.isolation_timeline(session, s, START, END)
    assert len(timeline) == 4
    first = timeline[0]
    assert first.left_pct == pytest.approx(100 / 3)  # T0 is one hour into a three-hour window
    assert first.label == "String 2"
    assert all(bar.width_pct >= 0.4 for bar in timeline)
    fleet = await queries.fault_pareto(session, None, START, END)
    assert sum(r.alarms for r in fleet) >= 3  # the fleet includes this site
