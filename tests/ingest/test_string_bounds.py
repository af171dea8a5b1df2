"""The edge's string model and the backend's field table agree on names and plausible values."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from app.ingest.schemas import StringRow
from app.telemetry.fields import STRING_MEASURES
from edge.model import FIELDS, Kind, Target
from edge.uplink.wire import STRING_FLAGS, STRING_INTEGERS, STRING_NUMBERS

STRING = FIELDS[Target.STRING]
TS = "2026-12-05T10:00:00Z"
WIRE_ONLY = {"contactor_fault", "enabled"}  # folded into status_bits by the backend
MEASURES = sorted(name for name in STRING_NUMBERS if STRING[name].kind is Kind.MEASURE)
COUNTS = sorted(name for name in STRING_INTEGERS if STRING[name].kind is Kind.COUNT)


def test_the_edge_sends_every_string_value_the_backend_reads() -> None:
    sent = {*STRING_NUMBERS, *STRING_INTEGERS, *STRING_FLAGS}
    read = {m.name for m in STRING_MEASURES if m.wire} - {"quality"}  # quality: every record
    assert sent == read | WIRE_ONLY
    assert set(StringRow.model_fields) == read | WIRE_ONLY | {"ts", "string", "quality"}


def backend_accepts(field: str, value: float) -> bool:
    """Whether the backend's string row takes this value."""
    try:
        StringRow.model_validate({"ts": TS, "string": 1, field: value})
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("field", MEASURES)
@given(value=st.floats(allow_nan=True, allow_infinity=True, width=64))
def test_a_value_the_edge_passes_the_backend_stores(field: str, value: float) -> None:
    spec = STRING[field]
    if spec.low <= value <= spec.high:  # NaN and infinities fail, as in the decoder
        assert backend_accepts(field, value)


@pytest.mark.parametrize("field", MEASURES + COUNTS)
def test_the_edge_bounds_are_stored(field: str) -> None:
    spec = STRING[field]
    assert backend_accepts(field, spec.low)
    assert backend_accepts(field, spec.high)
    assert not backend_accepts(field, float("nan"))
