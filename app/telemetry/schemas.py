"""Telemetry rows as the repositories write and read them."""

from dataclasses import dataclass
from datetime import datetime


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


# Not frozen: a frozen dataclass's __init__ costs several times more, per row of every batch.
@dataclass(slots=True)
class RackSampleRow:
    """One string sample in storage form."""

    rack_id: int
    ts: datetime
    voltage_v: float | None
    current_a: float | None
    power_kw: float | None
    soc_pct: float | None
    soh_pct: float | None
    contactor_closed: bool | None
    n_mod_connected: int | None
    n_mod_bypassed: int | None
    insulation_kohm: float | None
    charge_limit_a: float | None
    discharge_limit_a: float | None
    energy_charged_kwh: float | None
    energy_discharged_kwh: float | None
    cell_v_min: float | None
    cell_v_max: float | None
    status_bits: int
    fault_bits: int
    disable_reason: int | None
    quality: int


RACK_SAMPLE_COLUMNS: tuple[str, ...] = tuple(RackSampleRow.__dataclass_fields__)
RACK_SAMPLE_PG_TYPES: tuple[str, ...] = (
    "int4",
    "timestamptz",
    "float4",
    "float4",
    "float4",
    "float4",
    "float4",
    "bool",
    "int2",
    "int2",
    "float4",
    "float4",
    "float4",
    "float8",
    "float8",
    "float4",
    "float4",
    "int4",
    "int8",
    "int2",
    "int2",
)


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
