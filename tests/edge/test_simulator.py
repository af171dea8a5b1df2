"""The simulator is plausible, obeys command frames and shows injected faults."""

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import can
import pytest

from edge.can.codec import encode
from edge.can.protocol import Protocol, load_protocol
from edge.sim.bms import (
    ACK_DONE,
    LATCHED_MODULE_BITS,
    M_CELL_OV_ALARM,
    M_CELL_OV_WARN,
    OP_ALARM_RESET,
    OP_CONNECT,
    OP_DERATE,
    OP_DISCONNECT,
    S_CONTACTOR_FAIL,
    S_INSULATION_ALARM,
    SimBms,
)
from edge.sim.faults import Fault, FaultKind, apply_fault
from edge.sim.plant import Plant, PlantSpec
from edge.sim.runner import Simulator
from edge.sim.schedule import c_rate_at
from edge.site import load_site_file

PROTOCOLS = Path(__file__).resolve().parents[2] / "edge" / "protocols"
SPEC = PlantSpec(
    strings=3,
    modules_per_string=4,
    cells_per_module=16,
    temps_per_module=4,
    capacity_ah=280,
    string_rated_a=140,
    energy_kwh=200,
    power_kw=150,
)


@pytest.fixture(scope="module")
def protocol() -> Protocol:
    """The reference protocol."""
    return load_protocol(PROTOCOLS / "reference.toml")


def spread_mv(plant: Plant) -> float:
    """Worst cell spread of any string, in mV."""
    return max((max(s.cell_voltages()) - min(s.cell_voltages())) * 1000 for s in plant.strings)


def command(bms: SimBms, string: int, opcode: int, module: int = 0, **values: float) -> int:
    """Send one command frame to the BMS and return the ACK result code."""
    cmd = bms.messages["CMD"]
    data = encode(cmd, {"CmdId": 7, "CmdOpcode": opcode, **values})
    ack = bms.handle_command(cmd.frame_id | string << 8 | module, data, now=0.0)[0]
    decoded = bms.messages["ACK"].decode(ack.data, decode_choices=False)
    assert decoded["AckCmdId"] == 7
    return int(decoded["AckResult"])


def test_discharge_lowers_soc_and_spread_grows_under_load() -> None:
    plant = Plant.build(SPEC, seed=3)
    at_rest = spread_mv(plant)
    soc_before = plant.strings[0].soc()
    plant.step(60.0, 120.0, now=0.0)  # SunSpec's sign: a positive set-point discharges
    assert plant.strings[0].current_a > 30
    assert spread_mv(plant) > at_rest
    for _ in range(30):
        plant.step(60.0, 120.0, now=0.0)
    assert plant.strings[0].soc() < soc_before - 0.05
    assert max(plant.strings[0].modules[0].temps) > SPEC.ambient_c
    string = plant.strings[0]
    assert string.energy_out_kwh > 0.5
    assert string.energy_in_kwh == 0.0


def test_charge_is_negative_raises_soc_and_counts_energy_in() -> None:
    plant = Plant.build(SPEC, seed=3)
    string = plant.strings[0]
    soc_before, volts_before = string.soc(), string.voltage()
    plant.step(60.0, -120.0, now=0.0)
    assert string.current_a < -30
    assert string.voltage() > volts_before  # charging lifts the cells above their OCV
    for _ in range(30):
        plant.step(60.0, -120.0, now=0.0)
    assert string.soc() > soc_before + 0.05
    assert string.energy_in_kwh > 0.5
    assert string.energy_out_kwh == 0.0


def test_the_bms_sends_discharge_as_a_positive_current(protocol: Protocol) -> None:
    plant = Plant.build(SPEC, seed=3)
    bms = SimBms(plant, protocol)
    plant.step(1.0, 45.0, now=0.0)
    status = bms.messages["STR_STATUS"]
    sent = next(f for f in bms.frames() if f.frame_id == status.frame_id | 1 << 8)
    assert status.decode(sent.data, decode_choices=False)["StrCurrent"] > 0
    assert "positive = discharging" in status.get_signal_by_name("StrCurrent").comment


def test_the_daily_schedule_discharges_at_the_peaks_as_positive_power() -> None:
    day = datetime(2026, 11, 21, tzinfo=UTC)
    at = {hour: c_rate_at((day + timedelta(hours=hour)).timestamp()) for hour in (3, 8, 12, 19)}
    assert at[8] > 0  # morning peak: discharge
    assert at[19] > 0  # evening peak: discharge
    assert at[3] < 0  # night: charge
    assert at[12] < 0  # midday solar: charge


def test_passive_balancing_bleeds_leading_cells_near_full() -> None:
    plant = Plant.build(PlantSpec(**{**SPEC.__dict__, "initial_soc": 0.97}), seed=3)
    plant.step(60.0, -40.0, now=0.0)  # charging near full
    bleeding = [c for s in plant.strings for m in s.modules for c in m.cells if c.bleeding]
    assert bleeding


def test_derate_lowers_current_and_reverts(protocol: Protocol) -> None:
    plant = Plant.build(SPEC, seed=1)
    bms = SimBms(plant, protocol)
    assert command(bms, 1, OP_DERATE, CmdParam=25, CmdTimeout=600) == ACK_DONE
    plant.step(1.0, 150.0, now=1.0)
    assert abs(plant.strings[0].current_a) <= 35.0 + 1e-6
    assert abs(plant.strings[1].current_a) > 35.0
    plant.step(1.0, 150.0, now=601.0)
    assert plant.strings[0].discharge_limit_a == SPEC.string_rated_a


def test_isolating_a_string_opens_it_and_the_rest_carry_on(protocol: Protocol) -> None:
    plant = Plant.build(SPEC, seed=1)
    bms = SimBms(plant, protocol)
    plant.step(1.0, 45.0, now=0.0)
    shared = plant.strings[1].current_a
    assert command(bms, 1, OP_DISCONNECT, CmdReason=2) == ACK_DONE
    plant.step(1.0, 45.0, now=1.0)
    assert plant.strings[0].current_a == 0.0
    assert plant.strings[0].dis_reason == 2
    assert plant.strings[1].current_a > shared  # more discharge current each
    assert command(bms, 1, OP_CONNECT) == ACK_DONE
    assert plant.strings[0].contactor_closed


def test_an_isolation_answers_with_the_open_contactor_at_once(protocol: Protocol) -> None:
    plant = Plant.build(SPEC, seed=1)
    bms = SimBms(plant, protocol)
    plant.step(1.0, 45.0, now=0.0)
    cmd, status = bms.messages["CMD"], bms.messages["STR_STATUS"]
    data = encode(cmd, {"CmdId": 9, "CmdOpcode": OP_DISCONNECT, "CmdReason": 1})
    answer = bms.handle_command(cmd.frame_id | 2 << 8, data, now=0.0)
    statuses = [f for f in answer if f.frame_id == status.frame_id | 2 << 8]
    assert len(statuses) == 1  # the ACK is followed by string 2's status, not a cycle later
    seen = status.decode(statuses[0].data, decode_choices=False)
    assert seen["StrContactorClosed"] == 0
    assert seen["StrCurrent"] == 0


def test_cell_over_voltage_latches_until_alarm_reset(protocol: Protocol) -> None:
    plant = Plant.build(SPEC, seed=1)
    bms = SimBms(plant, protocol)
    apply_fault(plant, Fault(FaultKind.CELL_OV, string=2, module=3, cell=5, size=0.45))
    plant.step(1.0, 0.0, now=0.0)
    bms.evaluate()
    module = plant.strings[1].modules[2]
    assert module.faults & (1 << M_CELL_OV_WARN)
    assert module.faults & (1 << M_CELL_OV_ALARM)
    module.cells[4].fault_offset_v = 0.0
    plant.step(1.0, 0.0, now=1.0)
    bms.evaluate()
    assert module.faults & LATCHED_MODULE_BITS  # the alarm stays latched
    assert command(bms, 2, OP_ALARM_RESET) == ACK_DONE
    bms.evaluate()
    assert module.faults == 0


def test_insulation_drop_and_contactor_failure_show_in_string_faults(protocol: Protocol) -> None:
    plant = Plant.build(SPEC, seed=1)
    bms = SimBms(plant, protocol)
    apply_fault(plant, Fault(FaultKind.INSULATION_DROP, string=1))
    apply_fault(plant, Fault(FaultKind.CONTACTOR_FAILURE, string=3))
    bms.evaluate()
    assert plant.strings[0].faults & (1 << S_INSULATION_ALARM)
    assert plant.strings[2].faults & (1 << S_CONTACTOR_FAIL)
    assert command(bms, 3, OP_CONNECT) == ACK_DONE  # acknowledged, but feedback stays open
    assert not plant.strings[2].contactor_closed


def test_comms_loss_silences_one_module(protocol: Protocol) -> None:
    plant = Plant.build(SPEC, seed=1)
    bms = SimBms(plant, protocol)
    apply_fault(plant, Fault(FaultKind.COMMS_LOSS, string=1, module=2))
    ids = {f.frame_id & 0xFFFF for f in bms.frames()}
    assert 0x0102 not in ids
    assert 0x0101 in ids


def test_fault_parsing_names_the_bad_part() -> None:
    assert Fault.parse("cell_uv:string=2,module=4,cell=9,at=30") == Fault(
        FaultKind.CELL_UV, string=2, module=4, cell=9, at=30.0
    )
    with pytest.raises(ValueError, match="unknown fault 'melt'"):
        Fault.parse("melt")
    with pytest.raises(ValueError, match="fault parameter 'rack=1'"):
        Fault.parse("cell_ov:rack=1")


def test_simulator_answers_command_frames_on_the_bus(protocol: Protocol) -> None:
    site = load_site_file(
        Path(__file__).resolve().parents[2] / "edge" / "sites" / "ridge-farm.toml"
    )
    sim_bus = can.Bus(interface="virtual", channel="sim-ack-test")
    edge_bus = can.Bus(interface="virtual", channel="sim-ack-test")
    simulator = Simulator(site, protocol, sim_bus)
    simulator.start()
    try:
        cmd = protocol.message("CMD")
        data = encode(cmd, {"CmdId": 99, "CmdOpcode": OP_DISCONNECT, "CmdReason": 2})
        edge_bus.send(
            can.Message(arbitration_id=cmd.frame_id | 2 << 8, data=data, is_extended_id=True)
        )
        ack_id = protocol.message("ACK").frame_id | 2 << 8
        deadline, ack = time.monotonic() + 3, None
        while ack is None and time.monotonic() < deadline:
            message = edge_bus.recv(timeout=0.5)
            if message is not None and message.arbitration_id == ack_id:
                ack = protocol.message("ACK").decode(message.data, decode_choices=False)
        assert ack is not None
        assert (ack["AckCmdId"], ack["AckResult"]) == (99, ACK_DONE)
        assert not simulator.plant.strings[1].contactor_closed
        assert simulator.plant.strings[0].contactor_closed
    finally:
        simulator.stop()
        simulator.join(timeout=3)
        sim_bus.shutdown()
        edge_bus.shutdown()
