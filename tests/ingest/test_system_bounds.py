"""The edge and the backend agree on the system's fields and on what is a plausible value."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from app.ingest.schemas import SystemRow
from edge.model import FIELDS, Target
from edge.uplink.wire import SYSTEM_NUMBERS

SYSTEM = FIELDS[Target.SYSTEM]
TS = "2026-12-05T10:00:00Z"


def test_the_edge_sends_every_system_field_the_backend_reads() -> None:
    backend = set(SystemRow.model_fields) - {"ts", "quality"}
    assert set(SYSTEM) == set(SYSTEM_NUMBERS) == backend


def backend_accepts(field: str, value: float) -> bool:
    """Whether the backend stores a system row carrying this value."""
    try:
        SystemRow.model_validate({"ts": TS, field: value})
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("field", sorted(SYSTEM))
@given(value=st.floats(allow_nan=True, allow_infinity=True, width=64))
def test_a_value_the_edge_passes_the_backend_stores_and_no_other(field: str, value: float) -> None:
    spec = SYSTEM[field]
    edge_passes = spec.low <= value <= spec.high  # NaN and infinities fail, as in the decoder
    assert backend_accepts(field, value) == edge_passes


@pytest.mark.parametrize("field", sorted(SYSTEM))
def test_the_bounds_themselves_are_stored_and_a_step_beyond_refused(field: str) -> None:
    spec = SYSTEM[field]
    assert backend_accepts(field, spec.low)
    assert backend_accepts(field, spec.high)
    assert not backend_accepts(field, spec.high * 1.0001 + 0.001)
    assert not backend_accepts(field, spec.low - abs(spec.low) * 0.0001 - 0.001)
