"""The strict compiled decoder never accepts what the row models refuse, nor changes a value.

Rows are drawn field by field from valid values, boundaries, out-of-range values, wrong types,
nulls and missing fields. Whenever the strict path accepts a batch, the row-by-row path must
accept every row too and read the same values; for rows whose values have the wire's own types
(no coercion needed), the two paths must also agree on refusals.
"""

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app.ingest.parsing import ParsedBatch, parse_row_by_row, parse_strict
from tests.wire import batch

MISSING = object()
NON_FINITE = (float("inf"), float("-inf"), float("nan"))
T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)

# name -> (kind, low, high, required); lists carry (low, high) per element and length bounds.
MODULE_FIELDS: dict[str, tuple[Any, ...]] = {
    "ts": ("time", None, None, True),
    "string": ("int", 1, 255, True),
    "module": ("int", 1, 255, True),
    "cell_v": ("floats", 0.0, 5.0, True, 1, 64),
    "temp_c": ("floats", -40.0, 125.0, False, 0, 16),
    "soc_pct": ("float?", 0.0, 100.0, False),
    "soh_pct": ("float?", 0.0, 100.0, False),
    "voltage_v": ("float?", 0.0, 1500.0, False),
    "current_a": ("float?", -5000.0, 5000.0, False),
    "balancing": ("int", 0, 2**63 - 1, False),
    "fault_bits": ("int", 0, 2**63 - 1, False),
    "status_bits": ("int", 0, 2**31 - 1, False),
    "bypassed": ("bool?", None, None, False),
    "quality": ("int", 0, 2**15 - 1, False),
}
STRING_FIELDS: dict[str, tuple[Any, ...]] = {
    "ts": ("time", None, None, True),
    "string": ("int", 1, 255, True),
    "voltage_v": ("float?", 0.0, 2000.0, False),
    "current_a": ("float?", -5000.0, 5000.0, False),
    "soc_pct": ("float?", 0.0, 100.0, False),
    "contactor_closed": ("bool?", None, None, False),
    "disable_reason": ("int?", 0, 4, False),
    "charge_limit_a": ("float?", 0.0, 10000.0, False),
    "insulation_kohm": ("float?", 0.0, 1e6, False),
    "n_mod_connected": ("int?", 0, 64, False),
    "energy_charged_kwh": ("float?", 0.0, 1e12, False),
    "fault_bits": ("int", 0, 2**63 - 1, False),
}


def _in_range(kind: str, low: Any, high: Any) -> st.SearchStrategy[Any]:
    if kind == "int":
        return st.sampled_from([low, high]) | st.integers(low, high)
    return st.sampled_from([low, high]) | st.floats(low, high) | st.integers(int(low), int(high))


def _out_of_range(kind: str, low: Any, high: Any) -> st.SearchStrategy[Any]:
    # Just past each bound and well past it, so a loosened bound of any size is caught.
    if kind == "int":
        return st.sampled_from([low - 1, low - 10, high + 1, high + 10, -(2**70), 2**70])
    return st.sampled_from(
        [low - 1e-6, low - 1, high + 1e-3, high + 1, 2 * abs(high) + 10, *NON_FINITE]
    )


def _time() -> st.SearchStrategy[str]:
    zones = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))])
    return st.builds(
        lambda us, zone: (T0 + timedelta(microseconds=us)).astimezone(zone).isoformat(),
        st.integers(-(10**12), 10**12),
        zones,
    )


def _valid(spec: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    """A value the wire schema accepts for a field (including null or absent where allowed)."""
    kind, low, high, required = spec[:4]
    absent = st.nothing() if required else st.just(MISSING)
    null = st.just(None) if kind.endswith("?") else st.nothing()
    if kind == "time":
        return _time()
    if kind == "bool?":
        return st.booleans() | null | absent
    if kind == "floats":
        return st.lists(_in_range("float", low, high), min_size=spec[4], max_size=spec[5]) | absent
    return _in_range(kind.rstrip("?"), low, high) | null | absent


def _invalid(spec: tuple[Any, ...], *, lax: bool) -> st.SearchStrategy[Any]:
    """A value the wire schema refuses; with `lax`, also values a lax parser may coerce."""
    kind, low, high, required = spec[:4]
    coercible = (
        st.sampled_from(["3", "3.5", "true", True, 1.0, 0.0, "2026-11-21", 1.7e9, [], {}])
        if lax
        else st.nothing()
    )
    absent = st.just(MISSING) if required else st.nothing()
    if kind == "time":
        return st.just("2026-11-21T10:00:00") | st.just("yesterday") | absent | coercible
    if kind == "bool?":
        return st.just("maybe") | coercible
    if kind == "floats":
        good = _in_range("float", low, high)
        lengths = st.lists(good, min_size=spec[5] + 1, max_size=spec[5] + 2)
        if spec[4] > 0:
            lengths |= st.just([])
        one_bad = st.builds(
            lambda xs, bad, at: [*xs[:at], bad, *xs[at + 1 :]],
            st.lists(good, min_size=spec[4], max_size=spec[4] + 2),
            _out_of_range("float", low, high),
            st.integers(0, spec[4]),
        )
        return lengths | one_bad | absent | coercible
    return _out_of_range(kind.rstrip("?"), low, high) | absent | coercible


def _row(fields: dict[str, tuple[Any, ...]], *, lax: bool) -> st.SearchStrategy[dict[str, Any]]:
    """A valid row with up to two fields made invalid (and, if lax, maybe an unknown field)."""

    @st.composite
    def rows(draw: st.DrawFn) -> dict[str, Any]:
        row = {name: draw(_valid(spec)) for name, spec in fields.items()}
        broken = draw(st.lists(st.sampled_from(list(fields)), max_size=2, unique=True))
        for name in broken:
            row[name] = draw(_invalid(fields[name], lax=lax))
        if lax and draw(st.integers(0, 9)) == 0:
            row["unknown_field"] = 1
        return {name: value for name, value in row.items() if value is not MISSING}

    return rows()


def _body(modules: list[dict[str, Any]], strings: list[dict[str, Any]]) -> bytes:
    return json.dumps(batch("site", 1, modules=modules, strings=strings)).encode()


def _values(parsed: ParsedBatch) -> list[tuple[int, dict[str, Any]]]:
    rows = [*parsed.modules, *parsed.strings]
    return [
        (i, msgspec.structs.asdict(r) if isinstance(r, msgspec.Struct) else r.model_dump())
        for i, r in rows
    ]


FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(
    st.lists(_row(MODULE_FIELDS, lax=True), max_size=3),
    st.lists(_row(STRING_FIELDS, lax=True), max_size=2),
)
def test_strict_acceptance_implies_lax_acceptance_with_equal_values(
    modules: list[dict[str, Any]], strings: list[dict[str, Any]]
) -> None:
    body = _body(modules, strings)
    strict = parse_strict(body)
    event("strict path accepted" if strict is not None else "strict path refused")
    if strict is None:
        return
    lax = parse_row_by_row(body)
    assert lax.rejections == []
    assert _values(strict) == _values(lax)


@FAST
@given(
    st.lists(_row(MODULE_FIELDS, lax=False), max_size=3),
    st.lists(_row(STRING_FIELDS, lax=False), max_size=2),
)
def test_both_paths_refuse_the_same_canonically_typed_rows(
    modules: list[dict[str, Any]], strings: list[dict[str, Any]]
) -> None:
    body = _body(modules, strings)
    lax = parse_row_by_row(body)
    strict = parse_strict(body)
    event("refused" if lax.rejections else "accepted")
    assert (strict is not None) == (lax.rejections == [])
