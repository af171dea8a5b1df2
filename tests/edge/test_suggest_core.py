"""suggest-mapping's pure core on hand-made databases: families, offsets, units, flat numbering,
per-string names, flags, current direction, and a draft that the mapping loader accepts."""

from pathlib import Path

import pytest

from edge.can.mapping import load_mapping_file
from edge.model import Target
from edge.suggest.build import build_draft
from edge.suggest.codes import flag_code, snake_case
from edge.suggest.draft import Draft, DraftMessage
from edge.suggest.families import group_families
from edge.suggest.layout import cells_split, free_bits
from edge.suggest.render import render
from edge.suggest.signals import DatabaseInfo, MessageInfo, SignalInfo

CATALOGUE = frozenset({"cell_ov_alarm", "cell_ov_warning", "over_temp_alarm", "sensor_fault"})


def sig(
    name: str,
    unit: str = "",
    *,
    length: int = 12,
    high: float = 4095,
    low: float = 0,
    comment: str = "",
    page: int | None = None,
    mux: bool = False,
) -> SignalInfo:
    """A signal with the few facts the suggester reads."""
    pages = () if page is None else (page,)
    return SignalInfo(name, unit, length, low, high, mux, pages, comment)


def cells(names: list[str], unit: str = "mV", high: float = 4095) -> list[SignalInfo]:
    return [sig(n, unit, high=high) for n in names]


def draft(*messages: MessageInfo, comments: tuple[str, ...] = ()) -> Draft:
    info = DatabaseInfo(Path("v.dbc"), messages, comments, strict=True)
    return build_draft(info, name="v", database="v.dbc", catalogue=CATALOGUE)


def message(name: str, signals: list[SignalInfo], frame_id: int = 0x400) -> MessageInfo:
    return MessageInfo(name, frame_id, False, tuple(signals))


def only(d: Draft, name: str) -> DraftMessage:
    return next(m for m in d.messages if m.name == name)


@pytest.mark.parametrize(
    ("names", "template", "index"),
    [
        ([f"CellVoltage_{n:03}" for n in range(18)], "CellVoltage_{n-1:03}", (1, 18)),
        ([f"Cell_{n:02}" for n in range(1, 17)], "Cell_{n:02}", (1, 16)),
        ([f"U{n}" for n in range(1, 13)], "U{n}", (1, 12)),
        ([f"Cell{n}" for n in range(5, 17)], "Cell{n+4}", (1, 12)),
        ([f"Cell_{n:02}" for n in range(120)], "Cell_{n:02}", (0, 119)),  # flat, 3 digits at 100
    ],
)
def test_a_family_becomes_a_template_with_its_offset_and_digits(
    names: list[str], template: str, index: tuple[int, int]
) -> None:
    binding = only(draft(message("ModCells", cells(names))), "ModCells").fields[0]
    assert (binding.field, binding.signal, binding.index) == ("cell_v", template, index)


def test_validity_flags_pair_with_their_family_and_are_not_values() -> None:
    signals = cells([f"Cell_{n}" for n in range(4)])
    signals += [sig(f"Cell_{n}_Valid", length=1, high=1) for n in range(4)]
    fields = only(draft(message("ModCells", signals)), "ModCells").fields
    assert [(b.signal, b.valid) for b in fields] == [("Cell_{n-1}", "Cell_{n-1}_Valid")]


def test_millivolts_and_volts_bind_cells_but_module_voltages_and_unitless_do_not() -> None:
    volts = cells([f"CellV{n}" for n in range(1, 5)], unit="V", high=5.0)
    module_volts = cells([f"ModVolt{n}" for n in range(1, 5)], unit="V", high=655.35)
    unitless = cells([f"CellRaw{n}" for n in range(1, 5)], unit="")
    d = draft(message("ModA", volts), message("ModB", module_volts), message("ModC", unitless))
    assert only(d, "ModA").fields[0].signal == "CellV{n}"
    assert [m.name for m in d.unmapped] == ["ModB", "ModC"]  # left for a person, not guessed


def test_a_unitless_cell_or_temperature_family_says_to_give_it_a_unit() -> None:
    temps = [sig(f"Temp_{n}", length=8, high=255) for n in range(1, 5)]
    d = draft(message("ModTemps", temps))
    hint = d.unmapped[0].unrecognised[0]
    assert hint.startswith("Temp_{n} (1..4) has no unit in the database: give its signals one")
    assert f"# ModTemps: {hint}" in render(d)


def test_flat_numbering_takes_cells_per_module_from_the_database_comment() -> None:
    page = [sig("Page", mux=True), *cells([f"Cell_{n:03}" for n in range(240)])]
    therms = [sig(f"Therm_{n:02}", "degC", length=8, high=215, low=-40) for n in range(40)]
    d = draft(
        message("CellPages", page),
        message("Temps", therms, 0x410),
        comments=("Pack of 10 modules x 24 cells",),
    )
    cell, therm = only(d, "CellPages").fields[0], only(d, "Temps").fields[0]
    assert (cell.signal, cell.index, cell.per_module) == ("Cell_{n:03}", (0, 239), 24)
    assert (therm.index, therm.per_module) == ((0, 39), 4)  # 40 sensors over the 10 modules
    assert "10 modules x 24" in cell.note


def test_flat_numbering_without_a_comment_is_a_marked_guess() -> None:
    split = cells_split(96, ())
    assert (split.per_module, split.guessed) == (16, True)
    assert split.reason.startswith("GUESS")
    assert cells_split(96, ("12 cells per module",)).per_module == 12


def test_one_based_flat_names_count_n_from_zero() -> None:
    d = draft(message("Pages", [sig("P", mux=True), *cells([f"C{n}" for n in range(1, 97)])]))
    binding = only(d, "Pages").fields[0]
    assert (binding.signal, binding.index) == ("C{n+1}", (0, 95))


def test_per_string_names_counted_from_zero_get_s_minus_one() -> None:
    per_string = [sig(f"S{s}_PackVoltage", "V", length=16, high=6553.5, page=s) for s in (0, 1, 2)]
    signals = [sig("Sel", mux=True), *per_string]
    m = only(draft(message("Packs", signals)), "Packs")
    assert (m.strings, m.fields[0].signal, m.string) == ((1, 3), "S{s-1}_PackVoltage", None)


def test_current_direction_comes_from_the_comment_or_is_a_marked_guess() -> None:
    said = sig("StrI", "A", length=16, high=3276.7, low=-3276.8, comment="positive = charging")
    unsaid = sig("ModCurrent", "A", length=16, high=3276.7, low=-3276.8)
    d = draft(message("BMS_STR", [said]), message("ModStatus", [unsaid], 0x410))
    assert only(d, "BMS_STR").fields[0].positive == "charge"
    guessed = only(d, "ModStatus").fields[0]
    assert (guessed.positive, guessed.note.startswith("GUESS")) == ("discharge", True)


def test_flags_get_catalogue_codes_and_push_out_a_fault_word() -> None:
    signals = [
        sig("Flag_CellOverVoltage", length=1, high=1),
        sig("Flag_ThermistorOpen", length=1, high=1),
        sig("Flag_ContactorWelded", length=1, high=1),
        sig("Faults", length=16),
    ]
    m = only(draft(message("StatusFlags", signals)), "StatusFlags")
    assert [(f.code, f.catalogued) for f in m.flags] == [
        ("cell_ov_alarm", True),
        ("thermistor_open", False),
        ("contactor_welded", False),
    ]
    assert [(b.field, b.disabled) for b in m.fields] == [("fault_bits", True)]


def test_a_field_bound_twice_is_left_commented_out() -> None:
    d = draft(
        message("StrA", [sig("StrSoC", "%", length=8, high=100)]),
        message("StrB", [sig("PackSoc", "%", length=8, high=100)], 0x410),
    )
    assert [b.disabled for b in only(d, "StrA").fields] == [False]
    set_aside = d.set_aside[0]  # written commented out, so that a person can choose
    assert (set_aside.name, set_aside.fields[0].disabled) == ("StrB", True)
    assert "already bound to StrA.StrSoC" in set_aside.fields[0].note
    assert "# [[message]]" in render(d)


def test_addresses_from_free_id_bits_and_payload_signals() -> None:
    module = [sig("ModAddr", length=8, high=31), *cells([f"Cell_{n}" for n in range(1, 5)])]
    d = draft(
        message("BMS_CELLS", module, 0x300),
        message("BMS_STR", [sig("StrV", "V", length=16, high=6553.5)], 0x380),
    )
    cells_message = only(d, "BMS_CELLS")
    assert cells_message.module is not None
    assert cells_message.string is not None
    assert (cells_message.module.value, cells_message.module.offset) == ("ModAddr", 1)
    assert (cells_message.string.value, cells_message.string.offset) == ((0, 4), 1)
    assert free_bits((message("A", [], 0x1010000), message("B", [], 0x1020000))) == 16


def test_snake_case_codes_are_valid_fault_codes() -> None:
    assert snake_case("CellOverVoltage") == "cell_over_voltage"
    assert snake_case("2ndLevelAlarm") == "f_2nd_level_alarm"
    assert flag_code("Flag_PackOverTemperature", frozenset({"over_temp_alarm"})) == (
        "over_temp_alarm",
        True,
    )


def test_group_families_needs_two_members() -> None:
    families, singles = group_families([sig("Temp_1"), sig("Temp_2"), sig("Volt_1")])
    assert [(f.prefix, f.size) for f in families] == [("Temp_", 2)]
    assert [s.name for s in singles] == ["Volt_1"]


def test_the_rendered_draft_is_a_valid_mapping_file(tmp_path: Path) -> None:
    soc = [sig("ModSoC", "%", length=8, high=100), sig("ModSoC_Ok", length=1, high=1)]
    signals = [sig("Page", mux=True), *cells([f"Cell_{n:02}" for n in range(16)]), *soc]
    text = render(draft(message("ModCells", signals, 0x500), message("Debug", [sig("X")], 0x510)))
    path = tmp_path / "draft.toml"
    path.write_text(text)
    mapping = load_mapping_file(path)
    assert mapping.message[0].target is Target.MODULE
    assert [(b.field, b.valid) for b in mapping.message[0].fields] == [
        ("cell_v", None),
        ("soc_pct", "ModSoC_Ok"),
    ]
    assert "# Debug: X" in text  # nothing recognised: listed for a person


def test_a_family_split_over_messages_keeps_its_numbers() -> None:
    first = message("ModCellsA", cells([f"Cell_{n:02}" for n in range(1, 5)]), 0x500)
    second = message("ModCellsB", cells([f"Cell_{n:02}" for n in range(5, 9)]), 0x510)
    d = draft(first, second)
    assert [(b.signal, b.index) for m in d.messages for b in m.fields] == [
        ("Cell_{n:02}", (1, 4)),
        ("Cell_{n:02}", (5, 8)),
    ]


def test_two_families_on_the_same_positions_bind_the_first_only() -> None:
    first = message("ModCellsA", cells([f"CellA_{n}" for n in range(1, 5)]), 0x500)
    second = message("ModCellsB", cells([f"CellB_{n}" for n in range(1, 5)]), 0x510)
    d = draft(first, second)
    assert [m.name for m in d.messages] == ["ModCellsA"]
    assert "bound to ModCellsA.CellA_… already" in d.set_aside[0].fields[0].note


def test_a_flag_code_is_taken_once_per_target() -> None:
    flags = [sig("Flag_Fan", length=1, high=1)]
    d = draft(message("FlagsA", flags), message("FlagsB", flags, 0x410))
    assert [f.code for f in only(d, "FlagsA").flags] == ["fan"]
    assert d.unmapped[0].unrecognised == ["Flag_Fan (its code fan is FlagsA.Flag_Fan's)"]
