"""IEEE-float signals: a NaN or infinite reading is counted and never forwarded."""

import struct
from pathlib import Path

import pytest

from edge.can.decode import Frame, FrameDecoder
from edge.can.protocol import load_protocol
from edge.counters import Counters, Reason

DBC = """VERSION ""

NS_ :

BS_:

BU_: BMS EDGE

BO_ 1280 FLOAT_STATUS: 8 BMS
 SG_ ModAddr : 0|8@1+ (1,0) [0|31] "" EDGE
 SG_ SoC : 32|32@1- (1,0) [0|100] "%" EDGE

SIG_VALTYPE_ 1280 SoC : 1;
"""

MAPPING = """[protocol]
name = "float-vendor"
dbc = "float.dbc"

[[message]]
name = "FLOAT_STATUS"
target = "module"
address = { string = { value = 1 }, module = { signal = "ModAddr" } }
fields = [{ field = "soc_pct", signal = "SoC" }]
"""


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (float("nan"), Reason.NOT_A_NUMBER),
        (float("inf"), Reason.NOT_A_NUMBER),
        (130.0, Reason.OUT_OF_RANGE),
    ],
)
def test_non_finite_float_readings_are_rejected(tmp_path: Path, value: float, reason: str) -> None:
    (tmp_path / "float.dbc").write_text(DBC)
    (tmp_path / "float.toml").write_text(MAPPING)
    protocol = load_protocol(tmp_path / "float.toml")
    counters = Counters()
    decoder = FrameDecoder(protocol, counters)
    good = decoder.decode(Frame(1.0, 1280, False, bytes([2, 0, 0, 0]) + struct.pack("<f", 55.5)))
    bad = decoder.decode(Frame(1.0, 1280, False, bytes([2, 0, 0, 0]) + struct.pack("<f", value)))
    assert good is not None
    assert [(f.field, v) for f, v in good.values] == [("soc_pct", 55.5)]
    assert bad is not None
    assert bad.values == ()
    assert counters.rejected == {reason: 1}
