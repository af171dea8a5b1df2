"""Frame decoding: valid values addressed correctly; bad frames counted per reason, never passed."""

from pathlib import Path

import pytest

from edge.can.decode import Frame, FrameDecoder
from edge.can.protocol import Protocol, load_protocol
from edge.counters import Counters, Reason

REFERENCE = Path(__file__).resolve().parents[2] / "edge" / "protocols" / "reference.toml"


@pytest.fixture(scope="module")
def protocol() -> Protocol:
    """The reference protocol."""
    return load_protocol(REFERENCE)


def cell_frame(
    protocol: Protocol, string: int, module: int, group: int, **overrides: float
) -> Frame:
    """A MOD_CELL_V frame for cells 4*group+1..4*group+4, all valid unless overridden."""
    message = protocol.message("MOD_CELL_V")
    values: dict[str, float] = {"CellGroup": group}
    for k in range(4):
        n = group * 4 + k + 1
        values[f"CellV_{n:02}"] = 3.3 + n / 1000
        values[f"CellV_{n:02}_Ok"] = 1
    values.update(overrides)
    data = message.encode(values, strict=False)
    return Frame(1_800_000_000.0, message.frame_id | (string << 8) | module, True, data)


def test_cell_group_decodes_to_indexed_cells(protocol: Protocol) -> None:
    counters = Counters()
    decoded = FrameDecoder(protocol, counters).decode(cell_frame(protocol, 2, 7, group=1))
    assert decoded is not None
    assert (decoded.string, decoded.module) == (2, 7)
    assert [(f.label, v) for f, v in decoded.values] == [
        ("cell_v[4]", 3.305),
        ("cell_v[5]", 3.306),
        ("cell_v[6]", 3.307),
        ("cell_v[7]", 3.308),
    ]
    assert counters.snapshot()["rejected"] == {}


def test_invalid_flagged_value_is_dropped_and_counted(protocol: Protocol) -> None:
    counters = Counters()
    frame = cell_frame(protocol, 1, 1, group=0, CellV_02_Ok=0)
    decoded = FrameDecoder(protocol, counters).decode(frame)
    assert decoded is not None
    assert [f.label for f, _ in decoded.values] == ["cell_v[0]", "cell_v[2]", "cell_v[3]"]
    assert counters.rejected == {Reason.INVALID_FLAG: 1}


def test_out_of_range_value_is_dropped_and_counted(protocol: Protocol) -> None:
    counters = Counters()
    frame = cell_frame(protocol, 1, 1, group=0, CellV_03=7.5)  # 13 bits allow 8.191 V
    decoded = FrameDecoder(protocol, counters).decode(frame)
    assert decoded is not None
    assert "cell_v[2]" not in [f.label for f, _ in decoded.values]
    assert counters.rejected == {Reason.OUT_OF_RANGE: 1}


def test_unknown_id_wrong_dlc_and_bad_address_are_rejected(protocol: Protocol) -> None:
    counters = Counters()
    decoder = FrameDecoder(protocol, counters)
    good = cell_frame(protocol, 1, 1, group=0)
    assert decoder.decode(Frame(good.ts, 0x7FF, False, bytes(8))) is None
    assert decoder.decode(Frame(good.ts, good.frame_id, True, good.data[:5])) is None
    assert decoder.decode(cell_frame(protocol, 0, 1, group=0)) is None  # string 0
    assert decoder.decode(cell_frame(protocol, 1, 0, group=0)) is None  # module 0
    assert decoder.decode(cell_frame(protocol, 1, 40, group=0)) is None  # beyond 32
    assert counters.rejected == {Reason.UNKNOWN_ID: 1, Reason.WRONG_DLC: 1, Reason.BAD_ADDRESS: 3}
    assert (counters.frames, counters.decoded) == (5, 0)
