"""The daily plan keeps a site in its working range, and ordinary operation raises no warning."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge.can.protocol import Protocol, load_protocol
from edge.sim import lfp
from edge.sim.bms import SimBms
from edge.sim.plant import Plant, PlantSpec
from edge.sim.schedule import SOC_CEILING, SOC_FLOOR, planned_kw, window_at

PROTOCOLS = Path(__file__).resolve().parents[2] / "edge" / "protocols"
SPEC = PlantSpec(
    strings=2,
    modules_per_string=4,
    cells_per_module=16,
    temps_per_module=4,
    capacity_ah=280,
    string_rated_a=140,
    energy_kwh=115,
    power_kw=60,
)
DAY = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def protocol() -> Protocol:
    """The reference protocol."""
    return load_protocol(PROTOCOLS / "reference.toml")


def test_a_week_of_the_plan_cycles_in_the_working_range_without_a_warning(
    protocol: Protocol,
) -> None:
    plant = Plant.build(SPEC, seed=5)
    bms = SimBms(plant, protocol)
    socs, words, bleeding = [], set(), 0
    for step in range(7 * 24 * 30):  # a week in two-minute steps
        ts = DAY.timestamp() + step * 120
        setpoint = planned_kw(
            ts, soc=plant.soc(), energy_kwh=SPEC.energy_kwh, power_kw=SPEC.power_kw, seed=5
        )
        plant.step(120, setpoint, now=ts)
        bms.evaluate()
        socs.append(plant.soc())
        words |= {s.faults for s in plant.strings} | {
            m.faults for s in plant.strings for m in s.modules
        }
        bleeding += sum(c.bleeding for s in plant.strings for m in s.modules for c in m.cells)
    assert min(socs) >= max(0.2, SOC_FLOOR - 0.03)
    assert max(socs) <= min(0.9, SOC_CEILING + 0.03)
    assert max(socs) - min(socs) > 0.5  # it does cycle
    assert words == {0}  # no warning, no alarm, ever
    assert bleeding  # passive balancing works near the top of the daily charge


def test_charging_tapers_to_zero_before_the_cell_warning(protocol: Protocol) -> None:
    plant = Plant.build(PlantSpec(**{**SPEC.__dict__, "initial_soc": 0.95}), seed=5)
    bms = SimBms(plant, protocol)
    for step in range(240):  # asked to charge at full power for four hours
        plant.step(60, -SPEC.power_kw, now=float(step))
        bms.evaluate()
        assert max(max(s.cell_voltages()) for s in plant.strings) < lfp.CELL_OV_WARNING_V
        assert all(m.faults == 0 for s in plant.strings for m in s.modules)
    assert plant.soc() > 0.96  # it did charge, slowly, as the limit tapered
    assert all(abs(s.current_a) < 0.5 * SPEC.string_rated_a for s in plant.strings)


def test_discharging_tapers_to_zero_before_the_cell_warning(protocol: Protocol) -> None:
    plant = Plant.build(PlantSpec(**{**SPEC.__dict__, "initial_soc": 0.08}), seed=5)
    bms = SimBms(plant, protocol)
    for step in range(120):
        plant.step(60, SPEC.power_kw, now=float(step))
        bms.evaluate()
        assert min(min(s.cell_voltages()) for s in plant.strings) > lfp.CELL_UV_WARNING_V
        assert all(m.faults == 0 for s in plant.strings for m in s.modules)


def test_the_plan_stops_at_its_state_of_charge_limits() -> None:
    evening = (DAY + timedelta(hours=18)).timestamp()
    kw = {soc: planned_kw(evening, soc=soc, energy_kwh=100, power_kw=50) for soc in (0.2, 0.6)}
    assert kw[0.2] == 0.0  # at its floor: the evening peak discharges no further
    assert kw[0.6] > 0.0
    night = (DAY + timedelta(hours=2)).timestamp()
    assert planned_kw(night, soc=0.7, energy_kwh=100, power_kw=50) == 0.0  # at its target
    assert planned_kw(night, soc=0.3, energy_kwh=100, power_kw=50) < 0.0


def test_the_plan_follows_the_site_local_hours() -> None:
    ts = (DAY + timedelta(hours=19)).timestamp()  # 19:00 UTC is 13:00 in Denver (summer)
    utc, denver = window_at(ts), window_at(ts, ZoneInfo("America/Denver"))
    assert utc is not None
    assert utc.c_rate > 0  # the evening peak in UTC
    assert denver is not None
    assert denver.c_rate < 0  # the midday solar charge in Denver
