"""Simulated cell ageing: leakage, capacity fade and resistance growth from a chosen day."""

import pytest

from edge.sim.ageing import AgeingPlan, capacity_factor, leakage_a, resistance_factor
from edge.sim.ageing_spec import Ageing, AgeingKind
from edge.sim.plant import Plant, PlantSpec

SPEC = PlantSpec(
    strings=2,
    modules_per_string=2,
    cells_per_module=8,
    temps_per_module=2,
    capacity_ah=280,
    string_rated_a=140,
    energy_kwh=14.3,
    power_kw=10.0,
)


def ageing(kind: AgeingKind, *, from_day: float, rate: float) -> Ageing:
    return Ageing(kind, string=1, module=2, cell=3, from_day=from_day, rate=rate)


def test_leakage_grows_by_its_rate_from_the_onset() -> None:
    leak = [ageing(AgeingKind.LEAKAGE, from_day=10, rate=5)]  # 5 mA more each day
    assert leakage_a(leak, 9.0) == 0.0
    assert leakage_a(leak, 10.0) == 0.0
    assert leakage_a(leak, 14.0) == pytest.approx(0.020)  # 4 days x 5 mA


def test_capacity_and_resistance_change_by_percent_a_day() -> None:
    fade = [ageing(AgeingKind.CAPACITY, from_day=2, rate=0.5)]
    assert capacity_factor(fade, 12.0) == pytest.approx(0.95)  # 10 days x 0.5 %
    assert capacity_factor(fade, 1.0) == 1.0
    assert capacity_factor(fade, 1000.0) == pytest.approx(0.05)  # never below 5 %
    grow = [ageing(AgeingKind.RESISTANCE, from_day=0, rate=10)]
    assert resistance_factor(grow, 3.0) == pytest.approx(1.3)
    assert resistance_factor(fade, 30.0) == 1.0  # another kind does not touch resistance


def test_a_leaking_cell_loses_charge_at_rest_and_its_neighbours_do_not() -> None:
    plant = Plant.build(SPEC, seed=4)
    plan = AgeingPlan([ageing(AgeingKind.LEAKAGE, from_day=0, rate=100)])  # 0.1 A on day 1
    plan.apply(plant, 1.0)
    cells = plant.strings[0].modules[1].cells
    before = [c.soc for c in cells]
    plant.step(36_000.0, 0.0, now=0.0)  # ten hours at rest, below balancing's SoC
    lost = [b - c.soc for b, c in zip(before, cells, strict=True)]
    assert lost[2] == pytest.approx(0.1 * 10 / cells[2].capacity_ah)  # 1 Ah of its capacity
    assert lost[:2] + lost[3:] == [0.0] * 7


def test_the_plan_keeps_the_original_values_and_ages_from_them() -> None:
    plant = Plant.build(SPEC, seed=4)
    cell = plant.strings[0].modules[1].cells[2]
    capacity, resistance = cell.capacity_ah, cell.r_ohm
    plan = AgeingPlan(
        [
            ageing(AgeingKind.CAPACITY, from_day=5, rate=1),
            ageing(AgeingKind.RESISTANCE, from_day=5, rate=20),
        ]
    )
    for day in (6.0, 7.0, 15.0):  # applied daily: not compounded
        plan.apply(plant, day)
    assert cell.capacity_ah == pytest.approx(capacity * 0.90)
    assert cell.r_ohm == pytest.approx(resistance * 3.0)


def test_parse_reads_every_field() -> None:
    parsed = Ageing.parse("capacity:string=2,module=3,cell=4,from_day=7.5,rate=0.25")
    assert parsed == Ageing(AgeingKind.CAPACITY, 2, 3, 4, 7.5, 0.25)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rust:string=1", "unknown ageing 'rust'"),
        ("leakage:string=1,module=1,cell=1,from_day=0", "missing rate"),
        ("leakage:colour=red", "ageing parameter 'colour=red'"),
        ("leakage:string=1,module=1,cell=1,from_day=0,rate=x", "rate: 'x' is not a number"),
        ("leakage:string=1,module=1,cell=1,from_day=0,rate=-1", "rate must be >= 0"),
    ],
)
def test_parse_names_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Ageing.parse(text)


def test_a_place_that_does_not_exist_is_refused() -> None:
    plant = Plant.build(SPEC, seed=4)
    plan = AgeingPlan([Ageing(AgeingKind.LEAKAGE, 1, 9, 1, 0.0, 1.0)])
    with pytest.raises(ValueError, match="no module 9 in string 1"):
        plan.apply(plant, 1.0)
