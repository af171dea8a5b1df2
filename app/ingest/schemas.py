"""The wire contract as the backend reads it (ridethrough.telemetry.v1), row by row.

The batch envelope is validated as a whole; rows are validated one at a time so that one bad
row is refused with its reason while the good rows of the same batch are stored.
"""

import math
import reprlib
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

SCHEMA = "ridethrough.telemetry.v1"

Finite = Annotated[float, Field(allow_inf_nan=False)]
Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
# Per-element limits of the arrays; checked in bulk after parsing (see parsing.py), which
# is several times faster than a constrained type per element.
CELL_V_RANGE = (0.0, 5.0)
TEMP_C_RANGE = (-40.0, 125.0)
Energy = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]  # kWh counters
Bits = Annotated[int, Field(ge=0, lt=2**63)]
StringNo = Annotated[int, Field(ge=1, le=255)]
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"  # no control characters (PostgreSQL text refuses NUL)
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class Row(BaseModel):
    """Settings shared by every row model."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class ModuleRow(Row):
    """One module sample."""

    ts: AwareDatetime
    string: StringNo
    module: Annotated[int, Field(ge=1, le=255)]
    # null: a cell the BMS flagged invalid (unknown), not a reading.
    cell_v: Annotated[list[float | None], Field(min_length=1, max_length=64)]
    temp_c: Annotated[list[float], Field(max_length=16)] = []
    soc_pct: Percent | None = None
    soh_pct: Percent | None = None
    voltage_v: Annotated[float, Field(ge=0, le=1500, allow_inf_nan=False)] | None = None
    current_a: Annotated[float, Field(ge=-5000, le=5000, allow_inf_nan=False)] | None = None
    balancing: Bits = 0
    fault_bits: Bits = 0
    status_bits: Annotated[int, Field(ge=0, lt=2**31)] = 0
    bypassed: bool | None = None
    quality: Annotated[int, Field(ge=0, lt=2**15)] = 0


class StringRow(Row):
    """One string (rack) sample."""

    ts: AwareDatetime
    string: StringNo
    voltage_v: Annotated[float, Field(ge=0, le=2000, allow_inf_nan=False)] | None = None
    current_a: Annotated[float, Field(ge=-5000, le=5000, allow_inf_nan=False)] | None = None
    soc_pct: Percent | None = None
    soh_pct: Percent | None = None
    contactor_closed: bool | None = None
    contactor_fault: bool | None = None
    enabled: bool | None = None
    disable_reason: Annotated[int, Field(ge=0, le=4)] | None = None
    charge_limit_a: Annotated[float, Field(ge=0, le=10000, allow_inf_nan=False)] | None = None
    discharge_limit_a: Annotated[float, Field(ge=0, le=10000, allow_inf_nan=False)] | None = None
    insulation_kohm: Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False)] | None = None
    n_mod_connected: Annotated[int, Field(ge=0, le=64)] | None = None
    n_mod_bypassed: Annotated[int, Field(ge=0, le=64)] | None = None
    energy_charged_kwh: Energy | None = None
    energy_discharged_kwh: Energy | None = None
    fault_bits: Bits = 0
    quality: Annotated[int, Field(ge=0, lt=2**15)] = 0


class SystemRow(Row):
    """One sample of the whole system: the BMS master's pack values (one system per site).

    Limits are magnitudes; current and power are signed, positive = discharge (SunSpec).
    """

    ts: AwareDatetime
    soc_pct: Percent | None = None
    soh_pct: Percent | None = None
    voltage_v: Annotated[float, Field(ge=0, le=2000, allow_inf_nan=False)] | None = None
    current_a: Annotated[float, Field(ge=-50000, le=50000, allow_inf_nan=False)] | None = None
    power_kw: Annotated[float, Field(ge=-100000, le=100000, allow_inf_nan=False)] | None = None
    charge_limit_a: Annotated[float, Field(ge=0, le=50000, allow_inf_nan=False)] | None = None
    discharge_limit_a: Annotated[float, Field(ge=0, le=50000, allow_inf_nan=False)] | None = None
    charge_limit_kw: Annotated[float, Field(ge=0, le=100000, allow_inf_nan=False)] | None = None
    discharge_limit_kw: Annotated[float, Field(ge=0, le=100000, allow_inf_nan=False)] | None = None
    quality: Annotated[int, Field(ge=0, lt=2**15)] = 0


EventKind = Literal[
    "fault_raised",
    "fault_cleared",
    "contactor_opened",
    "contactor_closed",
    "comms_lost",
    "comms_restored",
    "module_bypassed",
    "module_returned",
]


CellVolts = Annotated[float, Field(ge=CELL_V_RANGE[0], le=CELL_V_RANGE[1], allow_inf_nan=False)]
Celsius = Annotated[float, Field(ge=TEMP_C_RANGE[0], le=TEMP_C_RANGE[1], allow_inf_nan=False)]


class EventRow(Row):
    """One event detected by the edge."""

    ts: AwareDatetime
    kind: EventKind
    target: Literal["module", "string"]
    string: StringNo
    module: Annotated[int, Field(ge=1, le=255)] | None = None
    code: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,64}$")] | None = None
    # A module fault's readings when it rose: the values the BMS tripped on (optional).
    cell_v: Annotated[list[CellVolts], Field(min_length=1, max_length=64)] | None = None
    temp_c: Annotated[list[Celsius], Field(max_length=16)] | None = None
    # A string's contactors opening: the BMS's reason as it opened them (SunSpec StrDisRsn).
    disable_reason: Annotated[int, Field(ge=0, le=4)] | None = None


class AssetRow(Row):
    """A module the edge hears on its bus, announced so that the registry knows it.

    Strings are not announced: their ratings come from the site configuration.
    """

    string: StringNo
    module: Annotated[int, Field(ge=1, le=255)]
    cell_count: Annotated[int, Field(ge=1, le=64)]
    temp_count: Annotated[int, Field(ge=0, le=16)]
    serial: Annotated[str, Field(min_length=1, max_length=64, pattern=PRINTABLE)] | None = None
    firmware: Annotated[str, Field(min_length=1, max_length=64, pattern=PRINTABLE)] | None = None


class Batch(BaseModel):
    """The batch envelope; rows stay raw here and are validated one by one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: Literal["ridethrough.telemetry.v1"] = Field(alias="schema")
    # A UUID in its canonical form (36 characters of hex and dashes alone were not always one).
    edge_id: Annotated[str, Field(pattern=UUID_PATTERN)]
    seq: Annotated[int, Field(ge=1, lt=2**62)]
    site: str
    created_at: AwareDatetime
    software_version: Annotated[str, Field(max_length=64, pattern=PRINTABLE)]
    counters: dict[str, Any] = {}  # checked by counters_problem()
    # Rows pass through untouched (list[Any] does not copy them); each is validated on its own.
    modules: Annotated[list[Any], Field(max_length=20_000)] = []
    strings: Annotated[list[Any], Field(max_length=2_000)] = []
    events: Annotated[list[Any], Field(max_length=20_000)] = []
    assets: Annotated[list[Any], Field(max_length=2_000)] = []
    systems: Annotated[list[Any], Field(max_length=2_000)] = []  # optional: pack-level values


COUNTER_DEPTH = 4  # groups within groups of counters (the edge sends two levels)
# Kept as JSON with every batch: bounded, so a batch cannot store megabytes of counters (the
# edge sends about twenty).
MAX_COUNTERS = 200  # names, counting those inside groups
MAX_COUNTER_NAME = 64  # characters


def counters_problem(counters: dict[str, Any]) -> tuple[str, str] | None:
    """(field, reason) when a batch's counters are too many or one is not a counter.

    ingest_batch.counters then always holds small, plain, storable JSON.
    """
    names = _count_names(counters, COUNTER_DEPTH)
    if names > MAX_COUNTERS:
        return (
            "counters",
            f"{names} counter names (groups included); at most {MAX_COUNTERS} are kept",
        )
    return counter_problem(counters)


def counter_problem(value: Any, path: str = "counters", depth: int = 0) -> tuple[str, str] | None:
    """(field, reason) for the first counter not a count, a finite figure, null or a group."""
    if value is None or isinstance(value, bool):
        return None if value is None else (path, "a counter must be a number, not true/false")
    if isinstance(value, int):
        return None if -(2**63) <= value < 2**63 else (path, "a count must fit in 64 bits")
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, "a counter must be a finite number")
    if isinstance(value, dict):
        if depth >= COUNTER_DEPTH:
            return path, f"counter groups nest at most {COUNTER_DEPTH} deep"
        return _group_problem(value, path, depth + 1)
    return path, f"a counter must be a number or a group of counters, not {type(value).__name__}"


def _count_names(group: dict[str, Any], levels: int) -> int:
    """Names in a group and its groups, `levels` deep (deeper nesting is refused anyway)."""
    inner = (_count_names(v, levels - 1) for v in group.values() if isinstance(v, dict))
    return len(group) + (sum(inner) if levels > 0 else 0)


def _group_problem(group: dict[str, Any], path: str, depth: int) -> tuple[str, str] | None:
    for key, item in group.items():
        if len(key) > MAX_COUNTER_NAME:
            why = f"a counter name has at most {MAX_COUNTER_NAME} characters, not {len(key)}"
            return f"{path}.{key[:MAX_COUNTER_NAME]}…", why
        if not key.isprintable():
            return f"{path}.{key!r}", "a counter name must be printable text"
        problem = counter_problem(item, f"{path}.{key}", depth)
        if problem is not None:
            return problem
    return None


# How much of a refused value is echoed back and kept: enough to recognise it, bounded however
# large or deeply nested the value sent was.
_ECHO = reprlib.Repr()
_ECHO.maxlevel, _ECHO.maxlist, _ECHO.maxdict, _ECHO.maxstring, _ECHO.maxother = 3, 8, 8, 80, 80
ECHO_MAX_CHARS = 200


def echo(value: Any) -> Any:
    """A refused value as it is shown and stored: as sent when small, else as short text."""
    if isinstance(value, str):
        return value if len(value) <= ECHO_MAX_CHARS else value[:ECHO_MAX_CHARS] + "…"
    return value if _small(value, _ECHO.maxlevel) else _ECHO.repr(value)


def _small(value: Any, levels: int) -> bool:
    """A scalar, or a short list or object of small values at most `levels` deep."""
    if value is None or isinstance(value, bool | int | float):
        return True
    if isinstance(value, str):
        return len(value) <= _ECHO.maxstring
    if levels == 0 or not isinstance(value, list | dict) or len(value) > _ECHO.maxlist:
        return False
    if isinstance(value, dict):
        return all(_small(k, 0) and _small(v, levels - 1) for k, v in value.items())
    return all(_small(item, levels - 1) for item in value)


class Rejection(BaseModel):
    """Why one row (or one field of it) was refused."""

    section: Literal["modules", "strings", "events", "assets", "systems"]
    row: int
    field: str
    value: Annotated[Any, BeforeValidator(echo)] = None
    reason: str


class SectionResult(BaseModel):
    """Counts for one section of a batch."""

    received: int = 0
    stored: int = 0
    already_stored: int = 0
    rejected: int = 0


class IngestResponse(BaseModel):
    """What the backend did with a batch."""

    edge_id: str
    seq: int
    duplicate_batch: bool
    modules: SectionResult
    strings: SectionResult
    events: SectionResult
    # Announced modules: stored = newly registered or serial/firmware changed.
    assets: SectionResult = SectionResult()
    systems: SectionResult = SectionResult()  # pack-level samples
    rejections: list[Rejection]
    received_at: datetime


class BatchDocument(Batch):
    """The batch as documented in OpenAPI: the envelope with each section's row schema.

    Only for the API description; parsing keeps rows raw (see Batch) so one bad row is refused
    on its own rather than failing the whole batch.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="Batch",
        json_schema_extra={
            "examples": [
                {
                    "schema": SCHEMA,
                    "edge_id": "6f1c1f8e-0b7a-4d2e-9a53-2f4f0c1d9e11",
                    "seq": 42,
                    "site": "north-quay",
                    "created_at": "2026-12-05T10:00:01Z",
                    "software_version": "1.4.0",
                    "counters": {"frames": 1200},
                    "modules": [
                        {
                            "ts": "2026-12-05T10:00:00Z",
                            "string": 1,
                            "module": 1,
                            "cell_v": [3.301, 3.298, 3.305, 3.3],
                            "temp_c": [24.5, 25.0],
                            "soc_pct": 61.5,
                            "current_a": -42.0,
                        }
                    ],
                    "strings": [
                        {
                            "ts": "2026-12-05T10:00:00Z",
                            "string": 1,
                            "voltage_v": 792.4,
                            "current_a": -42.0,
                            "contactor_closed": True,
                        }
                    ],
                    "events": [
                        {
                            "ts": "2026-12-05T09:59:58Z",
                            "kind": "fault_raised",
                            "target": "module",
                            "string": 1,
                            "module": 1,
                            "code": "cell_ov_warning",
                        }
                    ],
                }
            ]
        },
    )

    modules: Annotated[list[ModuleRow], Field(max_length=20_000)] = []
    strings: Annotated[list[StringRow], Field(max_length=2_000)] = []
    events: Annotated[list[EventRow], Field(max_length=20_000)] = []
    assets: Annotated[list[AssetRow], Field(max_length=2_000)] = []
    systems: Annotated[list[SystemRow], Field(max_length=2_000)] = []
