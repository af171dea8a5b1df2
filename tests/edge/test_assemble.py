"""Assembly: multiplexed frames become full snapshots per period; events carry their onset."""

from pathlib import Path

import pytest

from edge.can.assemble import Q_INVALID, Q_STALE, Assembler
from edge.can.codec import encode
from edge.can.decode import Frame, FrameDecoder
from edge.can.events import EventKind
from edge.can.protocol import Protocol, load_protocol
from edge.counters import Counters
from edge.model import Target

REFERENCE = Path(__file__).resolve().parents[2] / "edge" / "protocols" / "reference.toml"
T0 = 1_800_000_000.0  # a whole second


@pytest.fixture(scope="module")
def protocol() -> Protocol:
    """The reference protocol."""
    return load_protocol(REFERENCE)


class Bus:
    """Encodes reference frames and feeds them through decoder and assembler."""

    def __init__(self, protocol: Protocol, cells: int = 8) -> None:
        self.protocol = protocol
        self.decoder = FrameDecoder(protocol, Counters())
        self.assembler = Assembler(
            period_s=1.0,
            cells=cells,
            temps=4,
            comms_timeout_s=3.0,
            fault_names=protocol.fault_names,
        )

    def send(self, ts: float, name: str, string: int, module: int, **values: float) -> None:
        """Encode one frame and fold it in."""
        message = self.protocol.message(name)
        data = encode(message, values)
        decoded = self.decoder.decode(
            Frame(ts, message.frame_id | string << 8 | module, True, data)
        )
        assert decoded is not None
        self.assembler.add(decoded)

    def cells(
        self, ts: float, string: int, module: int, group: int, base: float, **ok: int
    ) -> None:
        """A cell-voltage group: cells 4g+1..4g+4 at base + n mV."""
        values: dict[str, float] = {"CellGroup": group}
        for k in range(4):
            n = group * 4 + k + 1
            values[f"CellV_{n:02}"] = round(base + n / 1000, 3)
            values[f"CellV_{n:02}_Ok"] = ok.get(f"ok{n}", 1)
        self.send(ts, "MOD_CELL_V", string, module, **values)

    def full_module(self, ts: float, string: int = 1, module: int = 1, faults: int = 0) -> None:
        """Every frame of an 8-cell, 4-sensor module."""
        self.cells(ts, string, module, 0, 3.3)
        self.cells(ts + 0.01, string, module, 1, 3.3)
        temps = {f"Temp_{n:02}": 25.0 + n / 2 for n in range(1, 5)}
        valid = {f"Temp_{n:02}_Ok": 1.0 for n in range(1, 5)}
        self.send(ts + 0.02, "MOD_TEMP", string, module, TempGroup=0, **temps, **valid)
        self.send(
            ts + 0.03,
            "MOD_STATUS",
            string,
            module,
            ModSoC=55.5,
            ModSoC_Ok=1,
            ModSoH=98,
            ModSoH_Ok=1,
            ModVoltage=26.5,
            ModCurrent=-40,
            ModCurrent_Ok=1,
        )
        self.send(ts + 0.04, "MOD_FLAGS", string, module, Balancing=0b101, ModFaults=faults)


def test_full_snapshot_per_module_per_period(protocol: Protocol) -> None:
    bus = Bus(protocol)
    bus.full_module(T0 + 0.1)
    bus.full_module(T0 + 0.6)
    out = bus.assembler.flush(T0 + 1.0)
    assert len(out.modules) == 1
    sample = out.modules[0]
    assert (sample.ts, sample.string, sample.module, sample.quality) == (T0, 1, 1, 0)
    assert sample.cell_v == (3.301, 3.302, 3.303, 3.304, 3.305, 3.306, 3.307, 3.308)
    assert sample.temp_c == (25.5, 26.0, 26.5, 27.0)
    assert sample.values["soc_pct"] == 55.5
    assert sample.values["current_a"] == -40
    assert sample.values["balancing"] == 0b101


def test_a_module_without_all_cells_is_not_emitted(protocol: Protocol) -> None:
    bus = Bus(protocol)
    bus.cells(T0 + 0.1, 1, 1, 0, 3.3)  # cells 1-4 only
    out = bus.assembler.flush(T0 + 1.0)
    assert out.modules == []
    assert out.incomplete == 1


def test_stale_and_invalid_values_are_flagged(protocol: Protocol) -> None:
    bus = Bus(protocol)
    bus.full_module(T0 + 0.1)
    bus.assembler.flush(T0 + 1.0)
    bus.cells(T0 + 1.1, 1, 1, 0, 3.3, ok2=0)  # group 1 not refreshed; cell 2 flagged invalid
    out = bus.assembler.flush(T0 + 2.0)
    assert out.modules[0].quality == Q_STALE | Q_INVALID
    # The invalid cell is unknown now, not its last valid value; the others are kept.
    assert out.modules[0].cell_v[:3] == (3.301, None, 3.303)


def test_a_cell_invalid_from_the_start_does_not_hold_back_the_module(protocol: Protocol) -> None:
    bus = Bus(protocol)
    bus.cells(T0 + 0.1, 1, 1, 0, 3.3, ok3=0)
    bus.cells(T0 + 0.2, 1, 1, 1, 3.3, ok8=0)
    out = bus.assembler.flush(T0 + 1.0)
    assert [m.cell_v for m in out.modules] == [
        (3.301, 3.302, None, 3.304, 3.305, 3.306, 3.307, None)
    ]
    assert out.modules[0].quality & Q_INVALID


def test_a_cell_valid_again_is_stored_again(protocol: Protocol) -> None:
    bus = Bus(protocol)
    bus.cells(T0 + 0.1, 1, 1, 0, 3.3, ok1=0)
    bus.cells(T0 + 0.2, 1, 1, 1, 3.3)
    bus.assembler.flush(T0 + 1.0)
    bus.cells(T0 + 1.1, 1, 1, 0, 3.4)
    bus.cells(T0 + 1.2, 1, 1, 1, 3.4)
    out = bus.assembler.flush(T0 + 2.0)
    assert out.modules[0].cell_v[0] == 3.401
    assert not out.modules[0].quality & Q_INVALID


def test_cells_that_never_come_are_counted_after_the_first_period(protocol: Protocol) -> None:
    # The site file says 12 cells per module, the BMS sends 8: each sample is held back, and
    # from the second period on that is counted and named.
    bus = Bus(protocol, cells=12)
    bus.full_module(T0 + 0.1)
    assert bus.assembler.flush(T0 + 1.0).held_back == 0  # the first period may be a start-up gap
    bus.full_module(T0 + 1.1)
    out = bus.assembler.flush(T0 + 2.0)
    assert (out.modules, out.held_back) == ([], 1)
    assert "string 1 module 1: cells 9-12 of 12 never received" in out.held_back_detail


def test_new_period_frame_closes_the_previous_period(protocol: Protocol) -> None:
    bus = Bus(protocol)
    bus.full_module(T0 + 0.1)
    bus.full_module(T0 + 1.1)  # first frame of the next period closes the first
    out = bus.assembler.flush(T0 + 1.5)
    assert [m.ts for m in out.modules] == [T0]


def test_fault_bit_edges_carry_the_frame_time_and_code(protocol: Protocol) -> None:
    bus = Bus(protocol)
    bus.full_module(T0 + 0.1, faults=0)
    bus.full_module(T0 + 1.1, faults=0b11)
    bus.full_module(T0 + 2.1, faults=0b10)
    events = bus.assembler.flush(T0 + 3.0).events
    assert [(e.kind, e.code, e.ts) for e in events] == [
        (EventKind.FAULT_RAISED, "cell_ov_warning", T0 + 1.1 + 0.04),
        (EventKind.FAULT_RAISED, "cell_ov_alarm", T0 + 1.1 + 0.04),
        (EventKind.FAULT_CLEARED, "cell_ov_warning", T0 + 2.1 + 0.04),
    ]
    assert {(e.target, e.string, e.module) for e in events} == {(Target.MODULE, 1, 1)}


def test_a_raised_fault_carries_the_readings_it_rose_with(protocol: Protocol) -> None:
    bus = Bus(protocol)
    bus.full_module(T0 + 0.1)
    out = bus.assembler.flush(T0 + 1.0)  # the batch before the fault holds this sample
    bus.cells(T0 + 1.1, 1, 1, 0, 3.3)
    bus.cells(T0 + 1.11, 1, 1, 1, 3.3 + 0.3)  # cells 5-8 jump; cell 8 is the highest
    bus.send(T0 + 1.14, "MOD_FLAGS", 1, 1, ModFaults=0b1)
    events = bus.assembler.flush(T0 + 1.5).events  # the fault's own period is still open
    bus.send(T0 + 2.1, "MOD_FLAGS", 1, 1, ModFaults=0)
    cleared = bus.assembler.flush(T0 + 2.5).events
    assert out.modules[0].cell_v[7] == 3.308
    (raised,) = events
    assert raised.readings is not None
    assert raised.readings.cell_v == (3.301, 3.302, 3.303, 3.304, 3.605, 3.606, 3.607, 3.608)
    assert raised.readings.temp_c == (25.5, 26.0, 26.5, 27.0)
    assert [(e.kind, e.readings) for e in cleared] == [(EventKind.FAULT_CLEARED, None)]


def test_no_readings_before_every_cell_is_known(protocol: Protocol) -> None:
    bus = Bus(protocol)
    bus.cells(T0 + 0.1, 1, 1, 0, 3.3)  # cells 5-8 never heard
    bus.send(T0 + 0.14, "MOD_FLAGS", 1, 1, ModFaults=0b1)
    (raised,) = bus.assembler.flush(T0 + 0.5).events
    assert raised.readings is None


def test_contactor_changes_and_comms_loss(protocol: Protocol) -> None:
    bus = Bus(protocol)
    bus.send(T0 + 0.2, "STR_STATUS", 2, 0, StrContactorClosed=1, StrEnabled=1)
    bus.send(T0 + 1.2, "STR_STATUS", 2, 0, StrContactorClosed=0, StrEnabled=0, StrDisRsn=1)
    bus.full_module(T0 + 1.3, string=2, module=4)
    events = bus.assembler.flush(T0 + 6.0).events
    kinds = [(e.kind, e.string, e.module, e.ts) for e in events]
    assert (EventKind.CONTACTOR_OPENED, 2, 0, T0 + 1.2) in kinds
    assert (EventKind.COMMS_LOST, 2, 4, T0 + 1.3 + 0.04) in kinds  # onset = last frame heard
    bus.full_module(T0 + 7.1, string=2, module=4)
    restored = bus.assembler.flush(T0 + 7.5).events
    assert [(e.kind, e.ts) for e in restored if e.module == 4] == [
        (EventKind.COMMS_RESTORED, T0 + 7.1)
    ]


def test_a_contactor_opening_carries_the_reason_from_its_own_frame(protocol: Protocol) -> None:
    bus = Bus(protocol)
    bus.send(T0 + 0.2, "STR_STATUS", 1, 0, StrContactorClosed=1, StrEnabled=1, StrDisRsn=0)
    bus.send(T0 + 1.2, "STR_STATUS", 1, 0, StrContactorClosed=0, StrEnabled=0, StrDisRsn=2)
    bus.send(T0 + 2.2, "STR_STATUS", 1, 0, StrContactorClosed=1, StrEnabled=1, StrDisRsn=0)
    events = bus.assembler.flush(T0 + 3.0).events
    assert [(e.kind, e.disable_reason) for e in events] == [
        (EventKind.CONTACTOR_OPENED, 2),  # maintenance, in the frame that showed the opening
        (EventKind.CONTACTOR_CLOSED, None),
    ]


def test_module_bypass_feedback_on_and_off(protocol: Protocol) -> None:
    bus = Bus(protocol)
    bus.send(T0 + 0.2, "MOD_STATUS", 1, 3, ModBypassed=0)
    bus.send(T0 + 1.2, "MOD_STATUS", 1, 3, ModBypassed=1)
    bus.send(T0 + 1.7, "MOD_STATUS", 1, 3, ModBypassed=1)  # still bypassed: no new event
    bus.send(T0 + 4.2, "MOD_STATUS", 1, 3, ModBypassed=0)
    events = bus.assembler.flush(T0 + 5.0).events
    assert [(e.kind, e.target, e.string, e.module, e.ts) for e in events] == [
        (EventKind.MODULE_BYPASSED, Target.MODULE, 1, 3, T0 + 1.2),
        (EventKind.MODULE_RETURNED, Target.MODULE, 1, 3, T0 + 4.2),
    ]
