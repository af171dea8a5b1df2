"""The reference DBC + mapping resolve, and bad mappings are refused with clear reasons."""

from pathlib import Path

import pytest

from edge.codec import encode
from edge.counters import Counters
from edge.decode import Frame, FrameDecoder
from edge.mapping import MappingError
from edge.model import Target
from edge.protocol import load_protocol

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
    status = protocol.message("BMS_STR")
    frame = Frame(1.0, 0x382, False, encode(status, {"StrV": 812.3, "StrI": -123.4}))
    values = FrameDecoder(protocol, Counters()).decode(frame)
    assert values is not None
    assert {f.field: v for f, v in values.values}["current_a"] == -123.4


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
    ],
)
def test_bad_mapping_is_refused_with_the_reason(tmp_path: Path, body: str, expected: str) -> None:
    with pytest.raises(MappingError) as info:
        load_protocol(write_mapping(tmp_path, body))
    assert expected in str(info.value)


def test_structural_errors_name_the_location(tmp_path: Path) -> None:
    path = write_mapping(tmp_path, '[[message]]\nname = "X"\ntarget = "rack"\nfields = []\n')
    with pytest.raises(MappingError) as info:
        load_protocol(path)
    assert "message.0.target" in str(info.value)
    assert "message.0.fields" in str(info.value)
