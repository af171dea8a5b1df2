"""Telemetry rows as the repositories write and read them."""

from dataclasses import dataclass, make_dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.telemetry.fields import STRING_MEASURES


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


RACK_SAMPLE_COLUMNS: tuple[str, ...] = ("rack_id", "ts", *(m.name for m in STRING_MEASURES))
RACK_SAMPLE_PG_TYPES: tuple[str, ...] = (
    "int4",
    "timestamptz",
    *(m.pg_type for m in STRING_MEASURES),
)


class RackSampleShape:
    """A string sample in storage form as the type checker sees it: a value per column."""

    rack_id: int
    ts: datetime

    def __init__(self, *values: object, **named: object) -> None: ...

    def __getattr__(self, name: str) -> Any: ...


def rack_sample_row() -> type[RackSampleShape]:
    """One string sample in storage form: rack_id, ts and every measure, in column order."""
    fields: list[tuple[str, Any]] = [("rack_id", int), ("ts", datetime)]
    fields += [(m.name, m.python_type | None) for m in STRING_MEASURES]
    # Not frozen: a frozen dataclass's __init__ costs several times more, per row of every batch.
    row = make_dataclass("RackSampleRow", fields, slots=True)
    row.__module__ = __name__
    return row


if TYPE_CHECKING:
    RackSampleRow = RackSampleShape
else:
    RackSampleRow = rack_sample_row()


@dataclass(slots=True)
class SystemSampleRow:
    """One system (pack-level) sample in storage form."""

    site_id: int
    ts: datetime
    soc_pct: float | None
    soh_pct: float | None
    voltage_v: float | None
    current_a: float | None
    power_kw: float | None
    charge_limit_a: float | None
    discharge_limit_a: float | None
    charge_limit_kw: float | None
    discharge_limit_kw: float | None
    quality: int


SYSTEM_SAMPLE_COLUMNS: tuple[str, ...] = tuple(SystemSampleRow.__dataclass_fields__)
SYSTEM_SAMPLE_PG_TYPES: tuple[str, ...] = ("int4", "timestamptz", *("float4",) * 9, "int2")
# The pack values themselves (no key, time or quality): what pages and exports show.
SYSTEM_VALUES: tuple[str, ...] = SYSTEM_SAMPLE_COLUMNS[2:-1]
