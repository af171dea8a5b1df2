"""A simulated site's weeks of history with aged cells, as module samples for the database.

The plant (edge/sim) steps five minutes at a time through a fixed daily plan that reaches both
steep ends of the LFP curve and rests there, as a storage site on a daily arbitrage schedule
does; a sample of every module is taken every 30 minutes, at the BMU's mV resolution.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from edge.sim import lfp
from edge.sim.ageing import AgeingPlan
from edge.sim.ageing_spec import Ageing
from edge.sim.plant import Plant, PlantSpec
from edge.sim.snapshots import module_cells

STEP_S = 300.0
WARMUP_STEP_S = 900.0  # before the record starts, coarser steps: nothing is sampled
WARMUP_DAYS = 40  # a site in service: balancing has long settled the cells' starting spread
SAMPLE_EVERY = 6  # steps: a sample each 30 minutes
DAY_S = 86_400.0
# 4 strings x 16 modules x 16 cells = 1,024 cells of 280 Ah (about 0.92 MWh)
SPEC = PlantSpec(
    strings=4,
    modules_per_string=16,
    cells_per_module=16,
    temps_per_module=4,
    capacity_ah=280,
    string_rated_a=140,
    energy_kwh=917.0,
    power_kw=230.0,
    initial_soc=0.55,
)
# (from hour, to hour, share of rated power; + discharges): empty it, rest at the bottom, fill
# it, rest at the top.
PLAN = ((0.0, 4.5, 1.0), (4.5, 14.0, 0.0), (14.0, 18.5, -1.0), (18.5, 24.0, 0.0))


def planned_kw(ts: float) -> float:
    """The plan's set-point at `ts` seconds from the start."""
    hour = (ts % DAY_S) / 3600.0
    share = next(s for start, end, s in PLAN if start <= hour < end)
    return share * SPEC.power_kw


@dataclass(frozen=True)
class Sample:
    """One module's reading: (string, position) and what its BMU reported."""

    string: int
    position: int
    at: datetime
    cells: tuple[float, ...]
    current_a: float
    soc_pct: float
    balancing: int


@dataclass
class Truth:
    """What only the simulator knows: per aged place, the first day a reading hit a warning."""

    warned_on: dict[tuple[int, int, int], float] = field(default_factory=dict)


def history(start: datetime, days: int, ageings: list[Ageing], truth: Truth) -> Iterator[Sample]:
    """Every module's samples for `days` days from `start` (UTC midnight), in time order,
    after `WARMUP_DAYS` unrecorded days of the same plan; ageing days count from `start`."""
    plant = Plant.build(SPEC, seed=23)
    for step in range(int(WARMUP_DAYS * DAY_S / WARMUP_STEP_S)):
        plant.step(WARMUP_STEP_S, planned_kw(step * WARMUP_STEP_S), now=step * WARMUP_STEP_S)
    plan = AgeingPlan(ageings)
    for step in range(int(days * DAY_S / STEP_S)):
        ts = step * STEP_S
        if step % (DAY_S / STEP_S) == 0:
            plan.apply(plant, ts / DAY_S)
        plant.step(STEP_S, planned_kw(ts), now=ts)
        if (step + 1) % SAMPLE_EVERY == 0:
            at = start + timedelta(seconds=ts + STEP_S)
            yield from _samples(plant, at)
            _note_warnings(plant, ageings, truth, (ts + STEP_S) / DAY_S)


def _samples(plant: Plant, at: datetime) -> Iterator[Sample]:
    for string in plant.strings:
        for module in string.modules:
            cells = module.cells
            yield Sample(
                string.index,
                module.position,
                at,
                module_cells(module),
                round(string.current_a, 1),
                round(sum(c.soc for c in cells) / len(cells) * 100, 1),
                sum(1 << i for i, c in enumerate(cells) if c.bleeding),
            )


def _note_warnings(plant: Plant, ageings: list[Ageing], truth: Truth, day: float) -> None:
    for a in ageings:
        place = (a.string, a.module, a.cell)
        volts = plant.strings[a.string - 1].modules[a.module - 1].cells[a.cell - 1].voltage
        beyond = not lfp.CELL_UV_WARNING_V < round(volts, 3) < lfp.CELL_OV_WARNING_V
        if beyond and place not in truth.warned_on:
            truth.warned_on[place] = day
