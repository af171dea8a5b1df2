"""The reference DBC + mapping resolve, and bad mappings are refused with clear reasons."""

import math
from pathlib import Path

import pytest

from edge.can.codec import encode
from edge.can.decode import Frame, FrameDecoder
from edge.can.mapping import MappingError
from edge.can.protocol import load_protocol
from edge.counters import Counters
from edge.model import Target

PROTOCOLS = Path(__file__).resolve().parents[2] / "edge" / "protocols"
REFERENCE = PROTOCOLS / "reference.toml"


def test_reference_protocol_resolves() -> None:
    protocol = load_protocol(REFERENCE)
    route = protocol.route_for(0x0101_0203, extended=True)
    assert route is not None
    assert (route.message, route.target) == ("MOD_CELL_V", Target.MODULE)
    assert route.string is not None
    assert route.module is not None
    assert (route.string.read(0x0101_0203, {}), route.module.read(0x0101_0203, {})) == (2, 3)
    assert [f.label for f in route.fields][:2] == ["cell_v[0]", "cell_v[1]"]
    assert len(route.fields) == 32


def test_string_frames_do_not_match_with_a_module_byte() -> None:
    protocol = load_protocol(REFERENCE)
    assert protocol.route_for(0x0201_0100, extended=True) is not None
    assert protocol.route_for(0x0201_0105, extended=True) is None
    assert protocol.route_for(0x0201_0100, extended=False) is None


OTHER = PROTOCOLS.parents[1] / "tests" / "protocols" / "other_vendor.toml"


def test_other_vendor_decodes_big_endian_millivolts_with_payload_address() -> None:
    protocol = load_protocol(OTHER)
    message = protocol.message("BMS_CELLS")
    data = encode(
        message, {"ModAddr": 4, "Page": 1, "Cell_04": 3301, "Cell_05": 3302, "Cell_06": 3299}
    )
    decoded = FrameDecoder(protocol, Counters()).decode(Frame(1.0, 0x303, False, data))
    assert decoded is not None
    assert (decoded.string, decoded.module) == (3, 5)  # id low bits; ModAddr counts from 0
    assert [(f.label, v) for f, v in decoded.values] == [
        ("cell_v[3]", 3.301),
        ("cell_v[4]", 3.302),
        ("cell_v[5]", 3.299),
    ]


def decoded_current(mapping: Path, message: str, frame_id: int, values: dict[str, float]) -> float:
    """The current_a one frame of a protocol decodes to."""
    protocol = load_protocol(mapping)
    data = encode(protocol.message(message), values)
    extended = frame_id > 0x7FF
    decoded = FrameDecoder(protocol, Counters()).decode(Frame(1.0, frame_id, extended, data))
    assert decoded is not None
    return {f.field: v for f, v in decoded.values}["current_a"]


@pytest.mark.parametrize(("vendor_a", "stored_a"), [(123.4, -123.4), (-50.0, 50.0), (0.0, 0.0)])
def test_a_vendor_that_counts_charge_as_positive_is_stored_discharge_positive(
    vendor_a: float, stored_a: float
) -> None:
    # The other vendor's mapping says positive = "charge": its +123.4 A is 123.4 A of charging,
    # which the model (SunSpec's convention) counts as negative.
    current = decoded_current(OTHER, "BMS_STR", 0x382, {"StrV": 812.3, "StrI": vendor_a})
    assert current == stored_a
    assert math.copysign(1.0, current) == math.copysign(1.0, stored_a)  # never a -0.0 A


def test_a_discharge_positive_vendor_is_stored_as_sent() -> None:
    # The reference BMS counts discharge as positive, as the model does: nothing is flipped.
    assert decoded_current(REFERENCE, "STR_STATUS", 0x0201_0100, {"StrCurrent": 42.5}) == 42.5


def test_the_flip_is_the_resolved_factor_check_config_prints() -> None:
    protocol = load_protocol(OTHER)
    route = next(r for r in protocol.routes.values() if r.message == "BMS_STR")
    assert route.by_signal["StrI"].factor == -1.0
    assert route.by_signal["StrV"].factor == 1.0


def write_mapping(tmp_path: Path, body: str) -> Path:
    """A mapping file next to a copy of the reference DBC."""
    (tmp_path / "reference.dbc").write_text((PROTOCOLS / "reference.dbc").read_text())
    path = tmp_path / "mapping.toml"
    path.write_text('[protocol]\nname = "t"\ndbc = "reference.dbc"\n' + body)
    return path


MODULE_ADDRESS = "address = { string = { id_bits = [8, 8] }, module = { id_bits = [0, 8] } }\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '[[message]]\nname = "NOPE"\ntarget = "module"\n'
            + MODULE_ADDRESS
            + 'fields = [{ field = "soc_pct", signal = "ModSoC" }]\n',
            "message 'NOPE' does not exist in the DBC",
        ),
        (
            '[[message]]\nname = "MOD_STATUS"\ntarget = "module"\n'
            + MODULE_ADDRESS
            + 'fields = [{ field = "soc_pct", signal = "ModSoCx" }]\n',
            "signal 'ModSoCx' does not exist in message MOD_STATUS",
        ),
        (
            '[[message]]\nname = "MOD_STATUS"\ntarget = "module"\n'
            + MODULE_ADDRESS
            + 'fields = [{ field = "soc_pct", signal = "ModVoltage" }]\n',
            "unit mismatch: the DBC says 'V', the field needs '%'",
        ),
        (
            '[[message]]\nname = "MOD_STATUS"\ntarget = "module"\n'
            + MODULE_ADDRESS
            + 'fields = [{ field = "voltage_v", signal = "ModVoltage", unit = "mV" }]\n',
            "unit mismatch: the mapping expects 'mV', the DBC says 'V'",
        ),
        (
            '[[message]]\nname = "MOD_STATUS"\ntarget = "module"\n'
            + MODULE_ADDRESS
            + 'fields = [{ field = "soc_pct", signal = "ModSoC" },'
            ' { field = "soc_pct", signal = "ModSoH" }]\n',
            "overlap: module.soc_pct is bound by both MOD_STATUS.ModSoC and MOD_STATUS.ModSoH",
        ),
        (
            '[[message]]\nname = "MOD_STATUS"\ntarget = "module"\n'
            + 'fields = [{ field = "soc_pct", signal = "ModSoC" }]\n',
            "a module message needs address.string",
        ),
        (
            '[[message]]\nname = "MOD_STATUS"\ntarget = "module"\n'
            + MODULE_ADDRESS
            + 'fields = [{ field = "cell_v", signal = "ModVoltage" }]\n',
            "the field is an array",
        ),
        (
            '[[message]]\nname = "MOD_STATUS"\ntarget = "module"\n'
            + MODULE_ADDRESS
            + 'fields = [{ field = "wattage", signal = "ModVoltage" }]\n',
            "field 'wattage': not a module field",
        ),
        (
            '[[message]]\nname = "MOD_STATUS"\ntarget = "module"\n'
            + MODULE_ADDRESS
            + 'fields = [{ field = "voltage_v", signal = "ModVoltage", positive = "charge" }]\n',
            "field 'voltage_v': positive applies to currents only",
        ),
        (
            '[[message]]\nname = "MOD_STATUS"\ntarget = "module"\n'
            + MODULE_ADDRESS
            + 'fields = [{ field = "current_a", signal = "ModCurrent", positive = "in" }]\n',
            "message.0.fields.0.positive: Input should be 'discharge' or 'charge'",
        ),
        (
            '[[message]]\nname = "MOD_STATUS"\ntarget = "module"\n'
            + MODULE_ADDRESS
            + 'fields = [{ field = "current_a", signal = "ModCurrent" }]\n',
            "field 'current_a': say which way the BMS counts this current as positive",
        ),
    ],
)
def test_bad_mapping_is_refused_with_the_reason(tmp_path: Path, body: str, expected: str) -> None:
    with pytest.raises(MappingError) as info:
        load_protocol(write_mapping(tmp_path, body))
    assert expected in str(info.value)


def test_structural_errors_name_the_location(tmp_path: Path) -> None:
    path = write_mapping(tmp_path, '[[message]]\nname = "X"\ntarget = "rack"\nfields = "y"\n')
    with pytest.raises(MappingError) as info:
        load_protocol(path)
    assert "message.0.target" in str(info.value)
    assert "message.0.fields" in str(info.value)


def test_a_message_that_binds_nothing_is_refused(tmp_path: Path) -> None:
    path = write_mapping(tmp_path, '[[message]]\nname = "X"\ntarget = "module"\nfields = []\n')
    with pytest.raises(MappingError) as info:
        load_protocol(path)
    assert "message.0: message 'X' binds nothing: give fields or flags" in str(info.value)
