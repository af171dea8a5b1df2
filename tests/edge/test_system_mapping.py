"""Pack-level (system) values from a mapping file alone: resolved, decoded, assembled, sent."""

import subprocess
import sys
from pathlib import Path

import pytest

from app.config import PROJECT_ROOT
from edge.can.assemble import Assembler
from edge.can.codec import encode
from edge.can.decode import Frame, FrameDecoder
from edge.can.mapping import MappingError
from edge.can.protocol import Protocol, load_protocol
from edge.counters import Counters
from edge.model import Target
from edge.sim.bms import SimBms
from edge.sim.plant import Plant, PlantSpec
from edge.uplink.wire import system_record

PROTOCOLS = Path(__file__).resolve().parents[1] / "protocols"
MASTER = PROTOCOLS / "bms_master.toml"
T0 = 1_800_000_000.0  # a whole second
STATUS = {"PackSOC": 61.3, "PackSOH": 97.5, "PackVoltage": 812.4, "PackCurrent": 120.5}
LIMITS = {
    "ChargeCurrentLimit": 250.0,
    "DischargeCurrentLimit": 300.5,
    "ChargePowerLimit": 180_000,
    "DischargePowerLimit": 215_430,
}


@pytest.fixture(scope="module")
def protocol() -> Protocol:
    """The BMS master test protocol."""
    return load_protocol(MASTER)


def frame(protocol: Protocol, ts: float, name: str, values: dict[str, float]) -> Frame:
    """One encoded frame of the BMS master."""
    message = protocol.message(name)
    return Frame(ts, message.frame_id, False, encode(message, values))


def mapping_with(tmp_path: Path, fields: str, extra: str = "") -> Path:
    """A one-message system mapping over the BMS master DBC."""
    (tmp_path / "bms_master.dbc").write_text((PROTOCOLS / "bms_master.dbc").read_text())
    path = tmp_path / "bad.toml"
    path.write_text(
        '[protocol]\nname = "bad"\ndbc = "bms_master.dbc"\n[[message]]\n'
        'name = "BMS_MasterStatus"\ntarget = "system"\n'
        f"{extra}fields = [{fields}]\n"
    )
    return path


def test_system_frames_decode_without_an_address_in_the_model_convention(
    protocol: Protocol,
) -> None:
    decoder = FrameDecoder(protocol, Counters())
    status = decoder.decode(frame(protocol, T0, "BMS_MasterStatus", STATUS))
    limits = decoder.decode(frame(protocol, T0, "BMS_MasterLimits", LIMITS))
    assert status is not None
    assert limits is not None
    assert (status.target, status.string, status.module) == (Target.SYSTEM, 0, 0)
    values = {f.field: v for f, v in (*status.values, *limits.values)}
    # Charge-positive on the bus, discharge-positive in the model; watts become kilowatts.
    assert values == {
        "soc_pct": 61.3,
        "soh_pct": 97.5,
        "voltage_v": 812.4,
        "current_a": -120.5,
        "charge_limit_a": 250.0,
        "discharge_limit_a": 300.5,
        "charge_limit_kw": 180.0,
        "discharge_limit_kw": 215.43,
    }


def test_one_system_sample_per_period_goes_on_the_wire(protocol: Protocol) -> None:
    decoder = FrameDecoder(protocol, Counters())
    assembler = Assembler(period_s=1.0, cells=4, temps=2, comms_timeout_s=3.0)
    for second in range(2):
        for name, values in (("BMS_MasterStatus", STATUS), ("BMS_MasterLimits", LIMITS)):
            decoded = decoder.decode(frame(protocol, T0 + second + 0.1, name, values))
            assert decoded is not None
            assembler.add(decoded)
    output = assembler.flush(T0 + 2.5)
    assert (len(output.systems), output.strings, output.modules) == (2, [], [])
    record = system_record(output.systems[0])
    assert record == {
        "ts": "2027-01-15T08:00:00.000Z",
        "quality": 0,
        "soc_pct": 61.3,
        "soh_pct": 97.5,
        "voltage_v": 812.4,
        "current_a": -120.5,
        "charge_limit_a": 250.0,
        "discharge_limit_a": 300.5,
        "charge_limit_kw": 180.0,
        "discharge_limit_kw": 215.43,
    }
    # Silence afterwards is a gap, not an event: comms events name a string or module.
    assert assembler.flush(T0 + 60).events == []


def check_config(mapping: Path) -> subprocess.CompletedProcess[str]:
    """Run `python -m edge check-config` as an integrator would."""
    command = [sys.executable, "-m", "edge", "check-config", str(mapping)]
    return subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)


def test_check_config_shows_the_system_bindings() -> None:
    result = check_config(MASTER)
    assert result.returncode == 0, result.stderr
    assert "BMS_MasterLimits  401/7FF   system  charge_limit_kw     ChargePowerLimit" in (
        result.stdout
    )
    assert result.stdout.rstrip().endswith("8 signal bindings, DBC bms_master.dbc; OK")


def test_check_config_names_an_unknown_system_field_and_a_wrong_unit(tmp_path: Path) -> None:
    mapping = mapping_with(
        tmp_path,
        '{ field = "pack_soc", signal = "PackSOC" }, '
        '{ field = "voltage_v", signal = "PackSOC" }, '
        '{ field = "soh_pct", signal = "PackSOH", unit = "V" }',
    )
    result = check_config(mapping)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert (
        "message BMS_MasterStatus, field 'pack_soc': not a system field (fields: soc_pct, "
        "soh_pct, voltage_v, current_a, power_kw, charge_limit_a"
    ) in result.stderr
    assert (
        "field 'voltage_v', signal PackSOC: unit mismatch: the DBC says '%', the field needs 'V'"
    ) in result.stderr
    assert "field 'soh_pct', signal PackSOH: unit mismatch: the mapping expects 'V'" in (
        result.stderr
    )


def test_a_system_current_needs_its_sign(tmp_path: Path) -> None:
    mapping = mapping_with(tmp_path, '{ field = "current_a", signal = "PackCurrent" }')
    with pytest.raises(MappingError, match="say which way the BMS counts this current"):
        load_protocol(mapping)


@pytest.mark.parametrize(
    ("extra", "fields", "why"),
    [
        (
            "address = { string = { value = 1 } }\n",
            '{ field = "soc_pct", signal = "PackSOC" }',
            "a system message describes the whole battery; drop address and strings",
        ),
        (
            "",
            '{ field = "soc_pct", signal = "PackSOC" }]\nflags = [{ signal = "PackSOH", '
            'code = "x" }',
            "a system message has no fault flags",
        ),
    ],
)
def test_a_system_message_has_no_address_and_no_flags(
    tmp_path: Path, extra: str, fields: str, why: str
) -> None:
    with pytest.raises(MappingError, match=why):
        load_protocol(mapping_with(tmp_path, fields, extra))


def test_the_reference_simulator_reports_the_whole_system() -> None:
    reference = load_protocol(PROJECT_ROOT / "edge" / "protocols" / "reference.toml")
    plant = Plant.build(
        PlantSpec(
            strings=3,
            modules_per_string=2,
            cells_per_module=8,
            temps_per_module=2,
            capacity_ah=100,
            string_rated_a=100,
            energy_kwh=50,
            power_kw=100,
        ),
        seed=3,
    )
    plant.step(1.0, 60.0, now=1.0)  # discharging 60 kW
    plant.strings[2].contactor_closed = False  # an open string adds no limits
    decoder = FrameDecoder(reference, Counters())
    values: dict[str, float] = {}
    for out in SimBms(plant, reference).frames():
        decoded = decoder.decode(Frame(T0, out.frame_id, True, out.data))
        if decoded is not None and decoded.target is Target.SYSTEM:
            values |= {f.field: v for f, v in decoded.values}
    amps = sum(s.current_a for s in plant.strings)
    assert amps > 0
    assert values["current_a"] == pytest.approx(amps, abs=0.05)  # discharge positive
    assert values["soc_pct"] == pytest.approx(plant.soc() * 100, abs=0.05)
    assert values["discharge_limit_a"] == pytest.approx(200.0)  # two closed strings of 100 A
    volts = max(s.voltage() for s in plant.strings[:2])
    assert values["charge_limit_kw"] == pytest.approx(200.0 * volts / 1000, abs=0.05)
