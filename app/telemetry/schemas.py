"""Telemetry rows as the repositories write and read them."""

from dataclasses import dataclass, make_dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.telemetry.fields import STRING_MEASURES, SYSTEM_MEASURES, Measure


# Not frozen: a frozen dataclass's __init__ costs several times more, per row of every batch.
@dataclass(slots=True)
class ModuleSampleRow:
    """One module sample in storage form (volts, amperes, degrees Celsius, percent)."""

    module_id: int
    ts: datetime
    soc_pct: float | None
    soh_pct: float | None
    current_a: float | None
    voltage_v: float | None
    cell_v: list[float | None]  # None: a cell the BMS flagged invalid (unknown)
    cell_v_min: float
    cell_v_max: float
    cell_v_avg: float
    cell_v_min_idx: int
    cell_v_max_idx: int
    temp_c: list[float]
    temp_c_max: float | None
    balancing: int
    status_bits: int
    fault_bits: int
    quality: int


# Data-quality bits from the edge (1 stale, 2 incomplete, 4 invalid) and the backend's own.
QUALITY_BYPASSED = 0x100  # the module reported itself bypassed (out of the string's current path)

MODULE_SAMPLE_COLUMNS: tuple[str, ...] = tuple(ModuleSampleRow.__dataclass_fields__)


class StoredSample:
    """A string or system sample in storage form as the type checker sees it: a value per
    column (the classes themselves are generated from the field table)."""

    ts: datetime

    def __init__(self, *values: object, **named: object) -> None: ...

    def __getattr__(self, name: str) -> Any: ...


def storage_row(name: str, key: str, measures: tuple[Measure, ...]) -> type[StoredSample]:
    """A sample in storage form: its key, ts and every measure, in column order."""
    fields: list[tuple[str, Any]] = [(key, int), ("ts", datetime)]
    fields += [(m.name, m.python_type | None) for m in measures]
    # Not frozen: a frozen dataclass's __init__ costs several times more, per row of every batch.
    row = make_dataclass(name, fields, slots=True)
    row.__module__ = __name__
    return row


def columns(key: str, measures: tuple[Measure, ...]) -> tuple[str, ...]:
    """A sample table's columns in COPY order."""
    return (key, "ts", *(m.name for m in measures))


def pg_types(measures: tuple[Measure, ...]) -> tuple[str, ...]:
    """A sample table's binary COPY types, in column order."""
    return ("int4", "timestamptz", *(m.pg_type for m in measures))


if TYPE_CHECKING:
    RackSampleRow = StoredSample
    SystemSampleRow = StoredSample
else:
    RackSampleRow = storage_row("RackSampleRow", "rack_id", STRING_MEASURES)
    SystemSampleRow = storage_row("SystemSampleRow", "site_id", SYSTEM_MEASURES)

RACK_SAMPLE_COLUMNS = columns("rack_id", STRING_MEASURES)
RACK_SAMPLE_PG_TYPES = pg_types(STRING_MEASURES)
SYSTEM_SAMPLE_COLUMNS = columns("site_id", SYSTEM_MEASURES)
SYSTEM_SAMPLE_PG_TYPES = pg_types(SYSTEM_MEASURES)
# The pack values themselves (no key, time or quality): what pages and exports show.
SYSTEM_VALUES: tuple[str, ...] = tuple(m.name for m in SYSTEM_MEASURES if m.export)
