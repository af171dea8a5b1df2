"""Ground truth: the watch list finds simulated weak cells weeks before the BMS warns.

A 60-day history of a 1,024-cell site (edge/sim's plant, after 40 unrecorded days in service)
with three cells ageing from day 3, one of each kind, goes through the real database and the
real health job day by day. Each aged cell must be in the top 5 without a break from at least
14 days before the day its voltage first reaches a BMS warning level to the end; a cell the
BMS's current taper keeps inside the warning levels all along must be so from 14 days before
the end at the latest. The leaking cell's apparent self-discharge must be within a factor of 2
of the injected leakage while balancing can still follow it, and raise the low-priority
self-discharge alarm, the only one. A healthy 60-day history of the same site must never score
at or above the alarm level nor raise a self-discharge alarm.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.health.job import score_site_days
from app.health.leakage import SELF_DISCHARGE
from app.health.watchlist import WatchSettings
from app.telemetry.repository import copy_module_samples
from app.telemetry.schemas import ModuleSampleRow
from edge.sim.ageing_spec import Ageing, AgeingKind
from tests.factories import make_site, module_ids, module_sample
from tests.health.aged_history import SPEC, Sample, Truth, history

START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 60
LEAD_DAYS = 14
TOP = 5
AGEINGS = [
    Ageing(AgeingKind.LEAKAGE, string=1, module=3, cell=5, from_day=3, rate=3.0),  # mA a day
    Ageing(AgeingKind.CAPACITY, string=2, module=7, cell=9, from_day=3, rate=0.25),  # % a day
    Ageing(AgeingKind.RESISTANCE, string=4, module=12, cell=3, from_day=3, rate=4.0),  # % a day
]


@dataclass(frozen=True)
class Ranked:
    """One stored watch-list entry: day number, rank, place and score."""

    day: int
    rank: int
    place: tuple[int, int, int]
    score: float


async def load_history(
    session: AsyncSession, modules: list[int], ageings: list[Ageing], truth: Truth
) -> None:
    """Write the simulated samples through COPY, a day at a time."""
    batch = []
    for sample in history(START, DAYS, ageings, truth):
        batch.append(row(sample, modules))
        if len(batch) >= 64 * 48:
            await copy_module_samples(session, batch)
            batch = []
    await copy_module_samples(session, batch)


def row(sample: Sample, modules: list[int]) -> ModuleSampleRow:
    module_id = modules[(sample.string - 1) * SPEC.modules_per_string + sample.position - 1]
    return module_sample(
        module_id,
        sample.at,
        list(sample.cells),
        current_a=sample.current_a,
        soc_pct=sample.soc_pct,
        balancing=sample.balancing,
    )


async def run_job(session: AsyncSession, site_id: int) -> None:
    """The job as the app runs it, a week per call, until every complete day is scored."""
    now = START + timedelta(days=DAYS, hours=1)
    while await score_site_days(session, site_id=site_id, now=now, settings=WatchSettings()):
        pass


async def watch_list(session: AsyncSession, site_id: int, modules: list[int]) -> list[Ranked]:
    place_of = {
        m: (i // SPEC.modules_per_string + 1, i % SPEC.modules_per_string + 1)
        for i, m in enumerate(modules)
    }
    result = await session.execute(
        text("SELECT day, rank, module_id, cell, score FROM cell_watch_1d WHERE site_id = :s"),
        {"s": site_id},
    )
    return [
        Ranked((day - START).days, rank, (*place_of[m], cell), score)
        for day, rank, m, cell, score in result
    ]


def first_day_in_top(entries: list[Ranked], place: tuple[int, int, int]) -> int | None:
    """The day from which the place stays in the top 5 to the end (None if it is not at the end)."""
    in_top = {e.day for e in entries if e.place == place and e.rank <= TOP}
    day = DAYS - 1
    if day not in in_top:
        return None
    while day - 1 in in_top:
        day -= 1
    return day


async def simulated_site(
    session: AsyncSession, ageings: list[Ageing]
) -> tuple[int, list[int], Truth, list[Ranked]]:
    """The site, its modules, the simulator's truth and every stored watch-list entry."""
    site = await make_site(
        session,
        racks=SPEC.strings,
        modules_per_rack=SPEC.modules_per_string,
        cells_per_module=SPEC.cells_per_module,
        module_capacity_ah=280.0,
        nameplate_energy_kwh=SPEC.energy_kwh,
    )
    modules = await module_ids(session, site)
    truth = Truth()
    await load_history(session, modules, ageings, truth)
    await run_job(session, site.site_id)
    return site.site_id, modules, truth, await watch_list(session, site.site_id, modules)


async def apparent_leak_ma(session: AsyncSession, module_id: int, cell: int) -> dict[int, float]:
    """A cell's apparent self-discharge per day number."""
    result = await session.execute(
        text("SELECT day, leak_ma[:c] FROM cell_score_1d WHERE module_id = :m"),
        {"m": module_id, "c": cell},
    )
    return {(day - START).days: value for day, value in result}


async def self_discharge_alarms(session: AsyncSession, site_id: int) -> list[tuple[int, int]]:
    """(module id, cell) of every self-discharge alarm the job raised on the site."""
    result = await session.execute(
        text("SELECT module_id, cell_index FROM alarm WHERE site_id = :s AND code = :c"),
        {"s": site_id, "c": SELF_DISCHARGE},
    )
    return [(m, c) for m, c in result]


# Each test simulates 100 days of 1,024 cells and scores 60 of them: minutes on a loaded machine.
SIMULATION_TIMEOUT_S = 1800


@pytest.mark.timeout(SIMULATION_TIMEOUT_S)
async def test_weak_cells_rank_top_five_weeks_before_the_bms_warns(session: AsyncSession) -> None:
    site_id, modules, truth, entries = await simulated_site(session, AGEINGS)
    found = {}
    for ageing in AGEINGS:
        place = (ageing.string, ageing.module, ageing.cell)
        found[ageing.kind] = (first_day_in_top(entries, place), truth.warned_on.get(place))
    print("top 5 from day, warned on day:", found)  # the report's figures (pytest -s)
    for kind, (detected, warned) in found.items():
        assert detected is not None, f"{kind} cell not in the top {TOP} at the end"
        deadline = (warned if warned is not None else DAYS) - LEAD_DAYS
        assert detected <= deadline, f"{kind} cell: top {TOP} from day {detected}, not {deadline}"
    assert truth.warned_on, "no aged cell reached a warning level: the history proves nothing"
    leak = AGEINGS[0]
    module_id = modules[(leak.string - 1) * SPEC.modules_per_string + leak.module - 1]
    estimated = await apparent_leak_ma(session, module_id, leak.cell)
    week = range(14, 21)  # the third week: balancing still follows the leak
    mean_estimate = sum(estimated[d] for d in week) / len(week)
    mean_injected = sum(leak.rate * leak.days_aged(d + 0.5) for d in week) / len(week)
    print(f"apparent leakage {mean_estimate:.1f} mA, injected {mean_injected:.1f} mA")
    assert mean_injected / 2 <= mean_estimate <= mean_injected * 2
    assert await self_discharge_alarms(session, site_id) == [(module_id, leak.cell)]


@pytest.mark.timeout(SIMULATION_TIMEOUT_S)
async def test_a_healthy_history_raises_nothing_above_the_alarm_level(
    session: AsyncSession,
) -> None:
    site_id, _, _, entries = await simulated_site(session, [])
    assert len({e.day for e in entries}) >= DAYS - 7  # ranked every day with a full week
    worst = max(entries, key=lambda e: e.score)
    print("healthy history's highest score:", worst)
    assert worst.score < WatchSettings().alarm_score
    assert await self_discharge_alarms(session, site_id) == []
