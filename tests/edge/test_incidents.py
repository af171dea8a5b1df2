"""Scripted incidents: planned injections and repairs, the cooling failure, re-arming on return."""

import time
from itertools import pairwise
from pathlib import Path

import can
import pytest

from edge.can.codec import encode
from edge.can.protocol import Protocol, load_protocol
from edge.sim import lfp
from edge.sim.bms import (
    ACK_DONE,
    M_OT_ALARM,
    M_OT_WARN,
    OP_CONNECT,
    OP_DISCONNECT,
    SimBms,
)
from edge.sim.faults import Fault, FaultKind, apply_fault, clear_fault
from edge.sim.incidents import Change, Incident, IncidentPlan, recurring
from edge.sim.plant import Plant, PlantSpec
from edge.sim.runner import Simulator
from edge.site import load_site_file
from tests.edge_process import REFERENCE_MAPPING, write_site_file

SPEC = PlantSpec(
    strings=2,
    modules_per_string=3,
    cells_per_module=16,
    temps_per_module=4,
    capacity_ah=280,
    string_rated_a=140,
    energy_kwh=86,
    power_kw=40,
)
COOLING = Fault(FaultKind.COOLING_FAILURE, string=2, module=3, size=40.0)
SITES = Path(__file__).resolve().parents[2] / "edge" / "sites"


@pytest.fixture(scope="module")
def protocol() -> Protocol:
    """The reference protocol."""
    return load_protocol(REFERENCE_MAPPING)


def command(bms: SimBms, string: int, opcode: int) -> int:
    """Send one command frame to the BMS; the ACK's result code."""
    cmd = bms.messages["CMD"]
    data = encode(cmd, {"CmdId": 1, "CmdOpcode": opcode, "CmdReason": 1})
    ack = bms.handle_command(cmd.frame_id | string << 8, data, now=0.0)[0]
    return int(bms.messages["ACK"].decode(ack.data, decode_choices=False)["AckResult"])


def test_a_plan_hands_out_each_injection_and_repair_once_in_time_order() -> None:
    fault = Fault(FaultKind.OVER_TEMP)
    plan = IncidentPlan(recurring(fault, first_h=1, every_h=24, lasts_h=2))
    assert plan.due(3599) == []
    assert [(d.change, d.at_s) for d in plan.due(3600)] == [(Change.INJECT, 3600)]
    assert plan.due(3600) == []
    # Skipping ahead a day and a half: the repair, the next day's injection and its repair.
    changes = [(d.change, d.at_s / 3600) for d in plan.due(36 * 3600)]
    assert changes == [(Change.REPAIR, 3), (Change.INJECT, 25), (Change.REPAIR, 27)]


def test_a_finite_plan_may_overlap_and_ends() -> None:
    a, b = Fault(FaultKind.OVER_TEMP), Fault(FaultKind.INSULATION_DROP)
    plan = IncidentPlan([Incident(a, 10, 100), Incident(b, 20, 50)])
    assert [(d.change, d.fault.kind) for d in plan.due(1000)] == [
        (Change.INJECT, a.kind),
        (Change.INJECT, b.kind),
        (Change.REPAIR, b.kind),
        (Change.REPAIR, a.kind),
    ]
    assert plan.due(10**9) == []


def test_a_cooling_failure_warms_the_module_through_the_warning_to_the_alarm(
    protocol: Protocol,
) -> None:
    plant = Plant.build(SPEC, seed=2)
    bms = SimBms(plant, protocol)
    module = plant.strings[1].modules[2]
    apply_fault(plant, COOLING)
    first_seen: dict[int, int] = {}
    for minute in range(60):
        plant.step(60, 0.0, now=minute * 60.0)
        bms.evaluate()
        for bit in (M_OT_WARN, M_OT_ALARM):
            if module.faults >> bit & 1:
                first_seen.setdefault(bit, minute)
        assert max(module.temps) < lfp.PROTECT_TEMP_C  # never as far as the BMS's own trip
    assert first_seen[M_OT_WARN] + 5 < first_seen[M_OT_ALARM] < 45
    assert all(m.faults == 0 for m in plant.strings[0].modules)  # only that module
    clear_fault(plant, COOLING)
    for minute in range(60, 120):
        plant.step(60, 0.0, now=minute * 60.0)
        bms.evaluate()
    assert max(module.temps) < lfp.OVER_TEMP_WARNING_C
    assert module.faults == 1 << M_OT_ALARM  # the warning clears, the alarm stays latched


def test_closing_a_string_rearms_its_protection(protocol: Protocol) -> None:
    plant = Plant.build(SPEC, seed=2)
    bms = SimBms(plant, protocol)
    module = plant.strings[1].modules[2]
    apply_fault(plant, Fault(FaultKind.OVER_TEMP, string=2, module=3, size=40.0))
    bms.evaluate()
    assert command(bms, 2, OP_DISCONNECT) == ACK_DONE
    assert command(bms, 2, OP_CONNECT) == ACK_DONE  # returned with the condition still there
    assert module.faults & 1 << M_OT_ALARM == 0  # the latch is reset by the return ...
    bms.evaluate()
    assert module.faults & 1 << M_OT_ALARM  # ... and the condition raises it again: a new onset
    clear_fault(plant, Fault(FaultKind.OVER_TEMP, string=2, module=3))
    bms.evaluate()
    assert command(bms, 2, OP_CONNECT) == ACK_DONE
    bms.evaluate()
    assert module.faults == 0  # repaired and returned: nothing stands


def test_the_simulator_runs_the_site_file_incident_every_cycle(
    protocol: Protocol, tmp_path: Path
) -> None:
    incident = (
        'incident = { fault = "cooling_failure:string=2,module=3,size=40", '
        "first_h = 0.5, every_h = 2, lasts_h = 1 }"
    )
    site_file = write_site_file(
        tmp_path,
        code="inc",
        mapping=REFERENCE_MAPPING,
        simulator=f"acceleration = 3600\nframe_period_s = 0.05\n{incident}",
    )
    bus = can.Bus(interface="virtual", channel="incident-test")
    simulator = Simulator(load_site_file(site_file), protocol, bus)
    module = simulator.plant.strings[1].modules[2]
    heat = []
    simulator.start()
    try:
        deadline = time.monotonic() + 4.0  # four simulated hours: two cycles
        while time.monotonic() < deadline:
            heat.append(module.extra_heat_c)
            time.sleep(0.01)
    finally:
        simulator.stop()
        simulator.join(timeout=3)
        bus.shutdown()
    rises = sum(1 for a, b in pairwise(heat) if a == 0 < b)
    falls = sum(1 for a, b in pairwise(heat) if a > 0 == b)
    assert heat[0] == 0.0
    assert rises >= 2
    assert falls >= 1


def test_the_demo_scripts_one_incident_a_simulated_day_on_one_site() -> None:
    scripted = {path.stem: load_site_file(path).simulator.incident for path in SITES.glob("*.toml")}
    assert [code for code, incident in scripted.items() if incident] == ["salt-flats"]
    incident = scripted["salt-flats"]
    assert incident is not None
    assert incident.every_h == 24
    assert Fault.parse(incident.fault).kind is FaultKind.COOLING_FAILURE
