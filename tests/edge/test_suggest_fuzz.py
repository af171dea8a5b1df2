"""Whatever database suggest-mapping is given, its draft loads with the mapping loader: random
cell and temperature families (any start, size, unit, paging), single values and flag sets."""

import tempfile
from pathlib import Path

from cantools.database.can import Database, Message, Signal
from cantools.database.conversion import LinearConversion
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.can.protocol import load_protocol
from edge.suggest import suggest_mapping

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STEMS = ["Cell_", "CellV", "CellVoltage_", "Temp_", "Therm", "U", "ModVolt", "Sensor"]
SINGLES = [
    "SoC",
    "SoH",
    "PackVoltage",
    "PackCurrent",
    "ChgLimit",
    "DchgLimit",
    "ModStatus",
    "Faults",
    "Alive",
    "Insulation",
    "EnergyIn",
    "Contactor",
    "ModAddr",
    "Other",
]
UNITS = ["", "mV", "V", "degC", "%", "A", "kOhm", "s"]


def signal(name: str, start: int, length: int, unit: str, page: int | None = None) -> Signal:
    """An unsigned signal whose range is its raw range (scale 0.001 for volts)."""
    scale = 0.001 if unit == "V" and length > 1 else 1.0
    return Signal(
        name,
        start,
        length,
        conversion=LinearConversion(scale, 0, False),
        minimum=0,
        maximum=((1 << length) - 1) * scale,
        unit=unit or None,
        multiplexer_ids=None if page is None else [page],
        multiplexer_signal=None if page is None else "Page",
    )


@st.composite
def family_message(draw: st.DrawFn, frame_id: int, name: str) -> Message:
    """A numbered family, four per page behind a multiplexer, with or without validity bits."""
    stem, unit = draw(st.sampled_from(STEMS)), draw(st.sampled_from(UNITS))
    first, size = draw(st.integers(0, 2)), draw(st.integers(2, 120))
    width, valid = draw(st.sampled_from([0, 2, 3])), draw(st.booleans())
    signals = [Signal("Page", 0, 8, is_multiplexer=True)]
    for k in range(size):
        label = f"{stem}{first + k:0{width}}" if width else f"{stem}{first + k}"
        page, slot = divmod(k, 4)
        signals.append(signal(label, 8 + slot * 12, 12, unit, page))
        if valid:
            signals.append(signal(f"{label}_Ok", 56 + slot, 1, "", page))
    return Message(frame_id, name, 8, signals, strict=False)


@st.composite
def other_message(draw: st.DrawFn, frame_id: int, name: str) -> Message:
    """Up to four 16-bit values with random names and units, then up to 48 one-bit flags."""
    names = draw(st.lists(st.sampled_from(SINGLES), max_size=4, unique=True))
    signals = [signal(n, i * 16, 16, draw(st.sampled_from(UNITS))) for i, n in enumerate(names)]
    flags = draw(st.integers(0, 64 - 16 * len(names)))
    start = 16 * len(names)
    signals += [signal(f"Flag_Fault{i}", start + i, 1, "") for i in range(flags)]
    return Message(frame_id, name, 8, signals or [signal("Spare", 0, 8, "")], strict=False)


@st.composite
def databases(draw: st.DrawFn) -> Database:
    """One to four messages; ids with free low bits or not."""
    spacing = draw(st.sampled_from([0x1, 0x10, 0x40]))
    messages = []
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from([family_message, other_message]))
        messages.append(draw(kind(0x100 + i * spacing, f"Msg{i}")))
    return Database(messages)


@FUZZ
@given(databases())
def test_every_draft_loads(database: Database) -> None:
    with tempfile.TemporaryDirectory() as folder:
        dbc, out = Path(folder) / "vendor.dbc", Path(folder) / "vendor.toml"
        dbc.write_text(database.as_dbc_string())
        text = suggest_mapping(dbc, out)
        if "[[message]]" not in text:
            return  # nothing recognised: the draft says so and has no entries to load
        out.write_text(text)
        assert load_protocol(out).routes
