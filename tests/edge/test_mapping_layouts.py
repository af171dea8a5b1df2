"""Mapping-format features vendors need: database formats, strict loading, templates, flags."""

from pathlib import Path

import cantools
import pytest

from edge.can.codec import encode
from edge.can.decode import Frame, FrameDecoder
from edge.can.mapping import MappingError
from edge.can.protocol import load_protocol
from edge.counters import Counters
from edge.model import Target

PROTOCOLS = Path(__file__).resolve().parents[1] / "protocols"
OTHER = PROTOCOLS / "other_vendor.toml"


def copy_with_database(tmp_path: Path, mapping: Path, database_name: str) -> Path:
    """The mapping file pointed at another database file (next to it in tmp_path)."""
    text = mapping.read_text()
    dbc_line = next(line for line in text.splitlines() if line.startswith("dbc ="))
    path = tmp_path / mapping.name
    path.write_text(text.replace(dbc_line, f'dbc = "{database_name}"'))
    return path


def decoded_cells(mapping: Path) -> list[tuple[str, float]]:
    """What one cell frame of the other vendor's protocol decodes to through this mapping."""
    protocol = load_protocol(mapping)
    cells = {"Cell_07": 3301, "Cell_08": 3302, "Cell_09": 3303}
    data = encode(protocol.message("BMS_CELLS"), {"ModAddr": 1, "Page": 2, **cells})
    decoded = FrameDecoder(protocol, Counters()).decode(Frame(1.0, 0x302, False, data))
    assert decoded is not None
    assert (decoded.string, decoded.module) == (2, 2)
    return [(f.label, v) for f, v in decoded.values]


@pytest.mark.parametrize("suffix", ["kcd", "sym"])
def test_kcd_and_sym_databases_load_like_the_dbc(tmp_path: Path, suffix: str) -> None:
    database = cantools.database.load_file(PROTOCOLS / "other_vendor.dbc")
    assert isinstance(database, cantools.database.can.Database)
    text = database.as_kcd_string() if suffix == "kcd" else database.as_sym_string()
    (tmp_path / f"other_vendor.{suffix}").write_text(text)
    mapping = copy_with_database(tmp_path, OTHER, f"other_vendor.{suffix}")
    assert decoded_cells(mapping) == decoded_cells(OTHER)
    assert decoded_cells(mapping) == [
        ("cell_v[6]", 3.301),
        ("cell_v[7]", 3.302),
        ("cell_v[8]", 3.303),
    ]


def test_an_arxml_database_loads_like_the_dbc() -> None:
    arxml = load_protocol(PROTOCOLS / "other_vendor_arxml.toml")  # dbc = other_vendor.arxml
    dbc = cantools.database.load_file(PROTOCOLS / "other_vendor.dbc")
    assert isinstance(dbc, cantools.database.can.Database)
    cells = {"Cell_07": 3301, "Cell_08": 3302, "Cell_09": 3303}
    data = encode(dbc.get_message_by_name("BMS_CELLS"), {"ModAddr": 1, "Page": 2, **cells})
    decoded = FrameDecoder(arxml, Counters()).decode(Frame(1.0, 0x302, False, data))
    assert decoded is not None
    assert (decoded.string, decoded.module) == (2, 2)
    assert [(f.label, v) for f, v in decoded.values] == [
        ("cell_v[6]", 3.301),
        ("cell_v[7]", 3.302),
        ("cell_v[8]", 3.303),
    ]
    # cantools names an AUTOSAR multiplexer <frame>_selector1 (the ARXML's Page is no signal
    # there): a mapping that reads a multiplexer as an address must use that name.
    route = arxml.route_for(0x302, extended=False)
    assert route is not None
    assert [s.name for s in route.message_def.signals if s.is_multiplexer] == [
        "BMS_CELLS_selector1"
    ]


def test_a_strict_load_error_names_the_remedy(tmp_path: Path) -> None:
    mapping = tmp_path / "cellmon.toml"
    mapping.write_text((PROTOCOLS / "cellmon.toml").read_text().replace("strict = false", ""))
    (tmp_path / "cellmon.dbc").write_text((PROTOCOLS / "cellmon.dbc").read_text())
    with pytest.raises(MappingError) as info:
        load_protocol(mapping)
    assert "DebugByte and DebugWord are overlapping" in str(info.value)
    assert "set strict = false in [protocol]" in str(info.value)


def test_strict_false_still_checks_the_mapped_messages() -> None:
    protocol = load_protocol(PROTOCOLS / "cellmon.toml")
    route = protocol.route_for(0x503, extended=False)
    assert route is not None
    assert [f.signal for f in route.fields][:2] == ["CellVoltage_000", "CellVoltage_001"]
    assert route.fields[0].index == 0  # cell 1 of the module is the DBC's CellVoltage_000


@pytest.mark.parametrize(
    ("signal", "expected"),
    [
        ("Cell_{n-1:03}x}", "unbalanced brace"),
        ("Cell_{n:xyz}", "{n:xyz} in 'Cell_{n:xyz}': bad format 'xyz'"),
        ("Cell_{k}", "{k} in 'Cell_{k}' is not a placeholder; write {n} for the index"),
        ("Cell_{n-2:02}", "{n-2:02} in 'Cell_{n-2:02}' is -1 for n = 1"),
    ],
)
def test_bad_templates_are_named_with_the_field_and_what_to_write(
    tmp_path: Path, signal: str, expected: str
) -> None:
    text = OTHER.read_text().replace('signal = "Cell_{n:02}"', f'signal = "{signal}"')
    mapping = tmp_path / "other_vendor.toml"
    mapping.write_text(text)
    (tmp_path / "other_vendor.dbc").write_text((PROTOCOLS / "other_vendor.dbc").read_text())
    with pytest.raises(MappingError) as info:
        load_protocol(mapping)
    assert expected in str(info.value)
    assert "message.0.fields.0" in str(info.value) or "message BMS_CELLS" in str(info.value)


def test_flags_and_a_fault_word_for_one_target_are_refused(tmp_path: Path) -> None:
    text = (PROTOCOLS / "cellmon.toml").read_text() + '\n[faults.string]\n0 = "cell_ov_alarm"\n'
    (tmp_path / "cellmon.toml").write_text(text)
    (tmp_path / "cellmon.dbc").write_text((PROTOCOLS / "cellmon.dbc").read_text())
    with pytest.raises(MappingError) as info:
        load_protocol(tmp_path / "cellmon.toml")
    assert "string faults come from flags and from [faults.string]" in str(info.value)


def test_flags_get_catalogue_codes_as_fault_names() -> None:
    names = load_protocol(PROTOCOLS / "cellmon.toml").fault_names[Target.STRING]
    assert len(names) == 20
    assert (names[0], names[19]) == ("cell_ov_alarm", "fan_fault")


def test_a_site_file_given_as_a_mapping_says_so(tmp_path: Path) -> None:
    site = Path(__file__).resolve().parents[2] / "edge" / "sites" / "north-quay.toml"
    with pytest.raises(MappingError) as info:
        load_protocol(site)
    assert "this is a site file" in str(info.value)
