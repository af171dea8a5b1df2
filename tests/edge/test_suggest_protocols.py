"""suggest-mapping on the project's protocols: the reference draft binds every cell voltage,
temperature, SoC and SoH as the hand-written mapping and plain cantools do; each vendor-style
test protocol's draft becomes its hand-written mapping after the few edits listed here."""

import csv
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import cantools
import pytest

from app.config import PROJECT_ROOT
from edge.can.check_config import signal_table
from edge.can.codec import encode
from edge.can.decode import Frame, FrameDecoder
from edge.can.mapping import load_mapping_file
from edge.can.mapping_warnings import warnings
from edge.can.protocol import Protocol, load_protocol
from edge.counters import Counters
from edge.dry_run import dry_run
from edge.site import load_site_file
from edge.suggest import suggest_mapping
from tests.edge_process import REFERENCE_MAPPING, write_site_file

PROTOCOLS = PROJECT_ROOT / "tests" / "protocols"
REFERENCE_DBC = REFERENCE_MAPPING.with_suffix(".dbc")
CHECKED = ("cell_v", "temp_c", "soc_pct", "soh_pct")


def reference_db() -> Any:
    """The reference DBC, loaded with plain cantools."""
    return cantools.database.load_file(REFERENCE_DBC)


def draft_for(tmp_path: Path, database: Path) -> Path:
    """The draft mapping for a database, written where an integrator would write it."""
    out = tmp_path / f"{database.stem}_draft.toml"
    out.write_text(suggest_mapping(database, out))
    return out


def pages(message: Any) -> list[int | None]:
    """The multiplexer values of a message ([None] if it has no multiplexer)."""
    ids = sorted({i for s in message.signals for i in (s.multiplexer_ids or [])})
    return list(ids) or [None]


def page_values(message: Any, page: int | None, seed: int) -> dict[str, float]:
    """Distinct in-range values for one page: every signal differs, validity flags set."""
    values: dict[str, float] = {}
    for k, signal in enumerate(message.signals):
        if signal.is_multiplexer:
            values[signal.name] = page if page is not None else 0
        elif page is None or not signal.multiplexer_ids or page in signal.multiplexer_ids:
            low, high = float(signal.minimum or 0), float(signal.maximum or 1)
            steps = round((high - low) / float(signal.scale))
            values[signal.name] = low + ((seed * 37 + k * 11) % (steps + 1)) * float(signal.scale)
    return values


def reference_frames() -> list[Frame]:
    """Two strings x three modules of every module and string message, one invalid cell."""
    db = reference_db()
    frames = []
    for string in (1, 2):
        for module in (1, 2, 3):
            names = ["MOD_CELL_V", "MOD_TEMP", "MOD_STATUS"] + ["STR_STATUS"] * (module == 1)
            for name in names:
                message = db.get_message_by_name(name)
                address = string << 8 | (0 if name.startswith("STR") else module)
                for page in pages(message):
                    values = page_values(message, page, seed=string * 10 + module)
                    values |= {s: 1 for s in values if s.endswith("_Ok")}
                    if (string, module, page, name) == (2, 3, 1, "MOD_CELL_V"):
                        values["CellV_06_Ok"] = 0  # cell 6 invalid: the draft binds validity
                    frames.append(
                        Frame(1.0, message.frame_id | address, True, encode(message, values))
                    )
    return frames


def decoded(protocol: Protocol, frames: list[Frame]) -> set[tuple[int, int, str, float]]:
    """(string, module, field label, value) of every checked field in the frames."""
    decoder = FrameDecoder(protocol, Counters())
    out = set()
    for frame in frames:
        result = decoder.decode(frame)
        assert result is not None
        out |= {
            (result.string, result.module, f.label, v)
            for f, v in result.values
            if f.field in CHECKED
        }
    return out


def cantools_oracle(frames: list[Frame]) -> set[tuple[int, int, str, float]]:
    """The same from plain cantools and the protocol's documented id = type | string | module."""
    db = reference_db()
    out = set()
    for frame in frames:
        message = db.get_message_by_frame_id(frame.frame_id & ~0xFFFF)
        values = db.decode_message(message.frame_id, frame.data, decode_choices=False)
        string, module = frame.frame_id >> 8 & 0xFF, frame.frame_id & 0xFF
        for name, value in values.items():
            label = _reference_label(name, message.name)
            if label and values.get(f"{name}_Ok", 1):
                out.add((string, module, label, round(value, 3)))
    return out


def _reference_label(name: str, message: str) -> str | None:
    if name.startswith(("CellV_", "Temp_")) and not name.endswith("_Ok"):
        field = "cell_v" if name.startswith("CellV_") else "temp_c"
        return f"{field}[{int(name[-2:]) - 1}]"
    prefix = "Mod" if message.startswith("MOD") else "Str"
    return {f"{prefix}SoC": "soc_pct", f"{prefix}SoH": "soh_pct"}.get(name)


def test_the_reference_draft_binds_every_cell_temperature_soc_and_soh(tmp_path: Path) -> None:
    draft = load_protocol(draft_for(tmp_path, REFERENCE_DBC))
    frames = reference_frames()
    expected = cantools_oracle(frames)
    labels = {label for _, _, label, _ in expected}
    assert len(labels) == 32 + 16 + 2  # every cell, every sensor, SoC and SoH
    assert len(expected) == 6 * (32 + 16 + 2) + 2 * 2 - 1  # modules, strings, less one invalid
    assert decoded(draft, frames) == expected
    assert decoded(load_protocol(REFERENCE_MAPPING), frames) == expected


def test_the_reference_draft_replays_like_the_hand_written_mapping(tmp_path: Path) -> None:
    draft = draft_for(tmp_path, REFERENCE_DBC)

    def samples(mapping: Path) -> list[list[str]]:
        site = load_site_file(
            write_site_file(
                tmp_path, code="ref", mapping=mapping, strings=2, modules=3, cells=32, temps=16
            )
        )
        out = io.StringIO()
        result = dry_run(site, load_protocol(mapping), reference_frames(), out, Counters())
        assert (result.modules, result.strings) == (6, 2)
        return list(csv.reader(io.StringIO(out.getvalue())))

    assert samples(draft) == samples(REFERENCE_MAPPING)


def table(mapping: Path) -> set[tuple[str, ...]]:
    return set(signal_table(load_protocol(mapping)))


def test_the_reference_draft_differs_only_in_what_no_dbc_says(tmp_path: Path) -> None:
    draft = draft_for(tmp_path, REFERENCE_DBC)
    missing = table(REFERENCE_MAPPING) - table(draft)
    # Remaining edits: map ACK (command acknowledgements) and add [commands] and the names of
    # the fault bits ([faults.module], [faults.string]) from the vendor's documentation.
    assert {row[0] for row in missing} == {"ACK"}
    assert table(draft) - table(REFERENCE_MAPPING) == set()
    assert load_protocol(draft).fault_names == {t: {} for t in load_protocol(draft).fault_names}


def edited(tmp_path: Path, database: Path, edits: list[tuple[str, str]]) -> Path:
    """The draft with these (old, new) text edits, each of which must apply."""
    path = draft_for(tmp_path, database)
    text = path.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text)
    return path


def test_cellmon_draft_zero_based_cells_validity_and_flags(tmp_path: Path) -> None:
    mapping = load_mapping_file(draft_for(tmp_path, PROTOCOLS / "cellmon.dbc"))
    assert mapping.protocol.strict is False  # the DBC loads only non-strictly
    cells = mapping.message[0].fields[0]
    assert cells.signal == "CellVoltage_{n-1:03}"  # the DBC counts from 0, cells from 1
    assert (cells.valid, cells.index) == ("CellVoltage_{n-1:03}_Valid", (1, 18))
    flags = mapping.message[3].flags
    assert [f.signal for f in flags] == [
        f.signal for f in load_mapping_file(PROTOCOLS / "cellmon.toml").message[3].flags
    ]
    assert [f.code for f in flags][:6] == [
        "cell_ov_alarm",
        "cell_uv_alarm",
        "over_temp_alarm",
        "under_temp_warning",
        "over_current_charge",
        "over_current_discharge",
    ]
    # What remains: the shunt counts charge as positive (the DBC does not say so), and six
    # flags get the catalogue code a person picks by meaning.
    path = edited(
        tmp_path,
        PROTOCOLS / "cellmon.dbc",
        [
            (
                'signal = "ShuntCurrent", positive = "discharge"',
                'signal = "ShuntCurrent", positive = "charge"',
            ),
            ('"cell_imbalance"', '"balancing_fault"'),
            ('"thermistor_open"', '"sensor_fault"'),
            ('"insulation_low"', '"insulation_alarm"'),
            ('"contactor_welded"', '"contactor_failure"'),
            ('"internal_comms"', '"bmu_internal_comms"'),
            ('"cellmon_lost"', '"module_comms_lost"'),
        ],
    )
    assert table(path) == table(PROTOCOLS / "cellmon.toml")
    assert load_protocol(path).fault_names == load_protocol(PROTOCOLS / "cellmon.toml").fault_names


def test_flat_pack_draft_numbers_cells_across_the_string(tmp_path: Path) -> None:
    mapping = load_mapping_file(draft_for(tmp_path, PROTOCOLS / "flat_pack.dbc"))
    cells, therms, strings = mapping.message
    assert (cells.fields[0].signal, cells.fields[0].index, cells.fields[0].per_module) == (
        "Cell_{n:03}",
        (0, 215),
        18,
    )  # per_module from the DBC's "12 modules of 18"
    assert (therms.fields[0].index, therms.fields[0].per_module) == ((0, 47), 4)
    assert strings.strings == (1, 2)
    assert [b.signal for b in strings.fields] == [
        "S{s}_PackVoltage",
        "S{s}_PackCurrent",
        "S{s}_PackSOC",
        "S{s}_PackSOH",
    ]
    # What remains: the draft reads the string from the id's low 4 bits (0x6B0 = string 1),
    # the hand-written mapping names the two ids; both decode alike, the tables differ.
    path = edited(
        tmp_path,
        PROTOCOLS / "flat_pack.dbc",
        [
            (
                'name = "CellPages"\ntarget = "module"\naddress = { string = { id_bits = [0, 4], '
                "offset = 1 } }",
                'name = "CellPages"\ntarget = "module"\naddress = { string = { '
                "id_range = [0x6B0, 0x6B1] } }",
            ),
            (
                'name = "ThermPages"\ntarget = "module"\naddress = { string = { id_bits = [0, 4], '
                "offset = 1 } }",
                'name = "ThermPages"\ntarget = "module"\naddress = { string = { '
                "id_range = [0x6C0, 0x6C1] } }",
            ),
        ],
    )
    assert table(path) == table(PROTOCOLS / "flat_pack.toml")


def test_other_vendor_draft_module_from_the_payload_mv_cells_and_sign(tmp_path: Path) -> None:
    mapping = load_mapping_file(draft_for(tmp_path, PROTOCOLS / "other_vendor.dbc"))
    cells = mapping.message[0]
    assert cells.address.module is not None
    assert (cells.address.module.signal, cells.address.module.offset) == ("ModAddr", 1)
    assert (cells.fields[0].signal, cells.fields[0].index) == ("Cell_{n:02}", (1, 16))
    current = next(b for b in mapping.message[2].fields if b.field == "current_a")
    assert current.positive == "charge"  # read from the signal's comment
    # What remains: this BMS numbers strings from 1 in the id (0x302 is string 2), and the
    # fault word's bit names come from the vendor's documentation.
    path = edited(
        tmp_path,
        PROTOCOLS / "other_vendor.dbc",
        [
            ("string = { id_bits = [0, 4], offset = 1 }", "string = { id_bits = [0, 4] }"),
        ],
    )
    path.write_text(path.read_text() + '\n[faults.module]\n0 = "cell_ov_alarm"\n')
    assert table(path) == table(PROTOCOLS / "other_vendor.toml")


@pytest.mark.parametrize(
    "database", [REFERENCE_DBC, *sorted(PROTOCOLS.glob("*.dbc"))], ids=lambda p: p.stem
)
def test_every_draft_loads_and_check_config_finds_no_off_by_one(
    tmp_path: Path, database: Path
) -> None:
    protocol = load_protocol(draft_for(tmp_path, database))
    assert protocol.routes
    assert not [w for w in warnings(protocol) if "off by one" in w]


def test_the_cli_writes_a_draft_that_check_config_accepts(tmp_path: Path) -> None:
    out = tmp_path / "vendor.toml"
    command = [
        sys.executable,
        "-m",
        "edge",
        "suggest-mapping",
        str(PROTOCOLS / "cellmon.dbc"),
        "--out",
        str(out),
    ]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout
    assert "GUESS" in out.read_text()
    dbc = load_mapping_file(out).protocol.dbc  # relative to the draft, as the loader reads it
    assert not dbc.is_absolute()
    assert (out.parent / dbc).resolve() == PROTOCOLS / "cellmon.dbc"
    check = subprocess.run(
        [sys.executable, "-m", "edge", "check-config", str(out)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert "cellmon: 4 messages, 46 signal bindings" in check.stdout
    again = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    assert again.returncode == 2
    assert "exists; give a new file name" in again.stderr


def test_bms_master_draft_maps_the_pack_values_to_the_system(tmp_path: Path) -> None:
    """A master's whole-battery messages (no address, pack names) become target = "system"."""
    master = PROTOCOLS / "bms_master.toml"
    draft = draft_for(tmp_path, master.with_suffix(".dbc"))
    assert {route.target for route in load_protocol(draft).routes.values()} == {"system"}
    assert table(draft) == table(master)  # every field, signal, unit factor and sign
