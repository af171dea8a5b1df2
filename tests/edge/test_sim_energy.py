"""The simulator's energy counters agree with the energy its cells store: on any history,
energy in - energy out - change in stored energy (the losses) is never negative, which is what
makes a round-trip efficiency over its data at most 100 %."""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.can.protocol import Protocol, load_protocol
from edge.sim import lfp
from edge.sim.bms import SimBms
from edge.sim.faults import Fault, FaultKind, apply_fault
from edge.sim.plant import Plant, PlantSpec

PROTOCOLS = Path(__file__).resolve().parents[2] / "edge" / "protocols"
# Small strings (2 modules of 8 cells) keep each example fast; the physics is per cell.
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


@cache
def reference() -> Protocol:
    """The reference protocol (the BMS needs it to evaluate its limits)."""
    return load_protocol(PROTOCOLS / "reference.toml")


@dataclass(frozen=True)
class Segment:
    """Hold the site at a C-rate (positive charges) for a number of steps."""

    steps: int
    c_rate: float


@dataclass(frozen=True)
class History:
    """A simulated history: the plant, the steps it takes and what happens to it."""

    seed: int
    initial_soc: float
    step_s: float
    segments: list[Segment]
    faults: list[Fault]
    bypass: bool  # string 2 module 2 bypassed half-way
    open_string: bool  # string 1 opened a third of the way in


@st.composite
def histories(draw: st.DrawFn) -> History:
    """Charge, discharge and rest at any rate and step, with sensor faults and isolations."""
    segments = draw(
        st.lists(
            st.builds(Segment, st.integers(1, 120), st.floats(-0.6, 0.6)), min_size=1, max_size=6
        )
    )
    kinds = st.sampled_from([FaultKind.CELL_OV, FaultKind.CELL_UV])
    faults = draw(
        st.lists(
            st.builds(
                Fault,
                kinds,
                st.integers(1, 2),
                st.integers(1, 2),
                st.integers(1, 8),
                size=st.floats(-0.9, 0.4),
            ),
            max_size=2,
        )
    )
    return History(
        seed=draw(st.integers(0, 1000)),
        initial_soc=draw(st.floats(0.02, 0.98)),
        step_s=draw(st.sampled_from([1.0, 10.0, 60.0, 300.0, 900.0])),
        segments=segments,
        faults=faults,
        bypass=draw(st.booleans()),
        open_string=draw(st.booleans()),
    )


def new_plant(history: History) -> Plant:
    """The plant the history starts from."""
    spec = PlantSpec(**{**SPEC.__dict__, "initial_soc": history.initial_soc})
    return Plant.build(spec, seed=history.seed)


def run(history: History, plant: Plant) -> None:
    """Step the plant through the history, the BMS's protection included."""
    bms = SimBms(plant, reference())
    for fault in history.faults:
        apply_fault(plant, fault)
    total = sum(s.steps for s in history.segments)
    step = 0
    for segment in history.segments:
        for _ in range(segment.steps):
            if history.open_string and step >= total / 3:
                plant.strings[0].contactor_closed = False
            if history.bypass and step >= total / 2:
                plant.strings[1].modules[1].bypassed = True
            plant.step(history.step_s, segment.c_rate * SPEC.energy_kwh, now=step * history.step_s)
            bms.evaluate()
            step += 1


@settings(max_examples=150, deadline=None)
@given(history=histories())
def test_losses_are_never_negative(history: History) -> None:
    plant = new_plant(history)
    before = [s.stored_kwh() for s in plant.strings]
    run(history, plant)
    for string, stored_before in zip(plant.strings, before, strict=True):
        losses = (
            string.energy_in_kwh - string.energy_out_kwh - (string.stored_kwh() - stored_before)
        )
        assert losses >= -1e-9, (string.index, losses)


def test_stored_energy_is_the_ocv_integral() -> None:
    # Empty to the first curve point: (2.50 + 2.90) / 2 V over 2 % of an Ah.
    assert lfp.stored_wh_per_ah(0.02) == pytest.approx(0.02 * 2.70)
    assert lfp.stored_wh_per_ah(0.0) == 0.0
    # Full: about 3.24 V average over the whole Ah.
    assert 3.2 < lfp.stored_wh_per_ah(1.0) < 3.3
    assert lfp.stored_wh_per_ah(0.6) < lfp.stored_wh_per_ah(0.61)
