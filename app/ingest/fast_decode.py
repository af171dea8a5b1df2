"""A compiled decoder for well-formed batches: JSON parsing and row validation in one pass.

The structs mirror the row models of schemas.py field for field (names, bounds, defaults) but
make no lax coercions, so any row they accept the row models accept with the same values
(tests/ingest/test_fast_decode.py checks this on random rows). A body with any problem at all
returns None and takes the slow path, which validates row by row and names each problem.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from app.ingest.schemas import CELL_V_RANGE, PRINTABLE, TEMP_C_RANGE, UUID_PATTERN

AwareTime = Annotated[datetime, Meta(tz=True)]
Percent = Annotated[float, Meta(ge=0, le=100)]
Bits = Annotated[int, Meta(ge=0, le=2**63 - 1)]
StringNo = Annotated[int, Meta(ge=1, le=255)]
ModuleNo = Annotated[int, Meta(ge=1, le=255)]
Quality = Annotated[int, Meta(ge=0, lt=2**15)]
CellVolt = Annotated[float, Meta(ge=CELL_V_RANGE[0], le=CELL_V_RANGE[1])]
TempC = Annotated[float, Meta(ge=TEMP_C_RANGE[0], le=TEMP_C_RANGE[1])]
Current = Annotated[float, Meta(ge=-5000, le=5000)]
CurrentLimit = Annotated[float, Meta(ge=0, le=10000)]
Energy = Annotated[float, Meta(ge=0, le=1e12)]


# gc=False: rows hold only numbers, strings and lists of numbers, so they cannot be part of a
# reference cycle; untracked, thousands per batch cost the cyclic collector nothing.
class FastModuleRow(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """ModuleRow, strict."""

    ts: AwareTime
    string: StringNo
    module: ModuleNo
    cell_v: Annotated[list[CellVolt | None], Meta(min_length=1, max_length=64)]
    temp_c: Annotated[list[TempC], Meta(max_length=16)] = []
    soc_pct: Percent | None = None
    soh_pct: Percent | None = None
    voltage_v: Annotated[float, Meta(ge=0, le=1500)] | None = None
    current_a: Current | None = None
    balancing: Bits = 0
    fault_bits: Bits = 0
    status_bits: Annotated[int, Meta(ge=0, lt=2**31)] = 0
    bypassed: bool | None = None
    quality: Quality = 0


class FastStringRow(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """StringRow, strict."""

    ts: AwareTime
    string: StringNo
    voltage_v: Annotated[float, Meta(ge=0, le=2000)] | None = None
    current_a: Current | None = None
    soc_pct: Percent | None = None
    soh_pct: Percent | None = None
    contactor_closed: bool | None = None
    contactor_fault: bool | None = None
    enabled: bool | None = None
    disable_reason: Annotated[int, Meta(ge=0, le=4)] | None = None
    charge_limit_a: CurrentLimit | None = None
    discharge_limit_a: CurrentLimit | None = None
    insulation_kohm: Annotated[float, Meta(ge=0, le=1e6)] | None = None
    n_mod_connected: Annotated[int, Meta(ge=0, le=64)] | None = None
    n_mod_bypassed: Annotated[int, Meta(ge=0, le=64)] | None = None
    energy_charged_kwh: Energy | None = None
    energy_discharged_kwh: Energy | None = None
    fault_bits: Bits = 0
    quality: Quality = 0


class FastBatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Batch, strict, with module and string rows typed; events, announced assets and system
    samples stay raw (few, and validated by their row models)."""

    schema: Literal["ridethrough.telemetry.v1"]
    edge_id: Annotated[str, Meta(pattern=UUID_PATTERN)]
    seq: Annotated[int, Meta(ge=1, lt=2**62)]
    site: str
    created_at: AwareTime
    software_version: Annotated[str, Meta(max_length=64, pattern=PRINTABLE)]
    counters: dict[str, Any] = {}
    modules: Annotated[list[FastModuleRow], Meta(max_length=20_000)] = []
    strings: Annotated[list[FastStringRow], Meta(max_length=2_000)] = []
    events: Annotated[list[dict[str, Any]], Meta(max_length=20_000)] = []
    assets: Annotated[list[dict[str, Any]], Meta(max_length=2_000)] = []
    systems: Annotated[list[dict[str, Any]], Meta(max_length=2_000)] = []


_DECODER = msgspec.json.Decoder(FastBatch)


def decode_strict(body: bytes) -> FastBatch | None:
    """The batch when every module and string row is valid as sent, else None."""
    try:
        return _DECODER.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
