"""The versioned wire contract between edge and backend: batches of telemetry as JSON.

The backend keeps its own copy of this schema; a contract test pins both to
tests/fixtures/wire_batch_v1.json.
"""

from datetime import UTC, datetime
from typing import Any

from edge.can.assemble import Snapshot
from edge.can.events import Event

SCHEMA = "ridethrough.telemetry.v1"
SOFTWARE_VERSION = "0.1.0"

MODULE_NUMBERS = ("soc_pct", "soh_pct", "voltage_v", "current_a")
MODULE_INTEGERS = ("balancing", "fault_bits", "status_bits")
STRING_NUMBERS = (
    "voltage_v",
    "current_a",
    "soc_pct",
    "soh_pct",
    "charge_limit_a",
    "discharge_limit_a",
    "insulation_kohm",
    "energy_charged_kwh",
    "energy_discharged_kwh",
)
SYSTEM_NUMBERS = (
    "soc_pct",
    "soh_pct",
    "voltage_v",
    "current_a",
    "power_kw",
    "charge_limit_a",
    "discharge_limit_a",
    "charge_limit_kw",
    "discharge_limit_kw",
)
STRING_INTEGERS = ("disable_reason", "n_mod_connected", "n_mod_bypassed", "fault_bits")
STRING_FLAGS = ("contactor_closed", "contactor_fault", "enabled")


def iso(ts: float) -> str:
    """A UTC timestamp with milliseconds, e.g. 2026-11-21T12:00:01.250Z."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def module_record(snapshot: Snapshot) -> dict[str, Any]:
    """One module sample on the wire; absent values are omitted, never invented."""
    values = snapshot.values
    record: dict[str, Any] = {
        "ts": iso(snapshot.ts),
        "string": snapshot.string,
        "module": snapshot.module,
        "cell_v": list(snapshot.cell_v),
        "temp_c": list(snapshot.temp_c),
        "quality": snapshot.quality,
    }
    record.update({k: values[k] for k in MODULE_NUMBERS if k in values})
    record.update({k: int(values[k]) for k in MODULE_INTEGERS if k in values})
    if "bypassed" in values:
        record["bypassed"] = bool(values["bypassed"])
    return record


def string_record(snapshot: Snapshot) -> dict[str, Any]:
    """One string sample on the wire."""
    values = snapshot.values
    record: dict[str, Any] = {
        "ts": iso(snapshot.ts),
        "string": snapshot.string,
        "quality": snapshot.quality,
    }
    record.update({k: values[k] for k in STRING_NUMBERS if k in values})
    record.update({k: int(values[k]) for k in STRING_INTEGERS if k in values})
    record.update({k: bool(values[k]) for k in STRING_FLAGS if k in values})
    return record


def system_record(snapshot: Snapshot) -> dict[str, Any]:
    """One sample of the whole system (the BMS master's pack values) on the wire."""
    values = snapshot.values
    record: dict[str, Any] = {"ts": iso(snapshot.ts), "quality": snapshot.quality}
    record.update({k: values[k] for k in SYSTEM_NUMBERS if k in values})
    return record


def event_record(event: Event) -> dict[str, Any]:
    """One event on the wire."""
    record: dict[str, Any] = {
        "ts": iso(event.ts),
        "kind": str(event.kind),
        "target": str(event.target),
        "string": event.string,
    }
    if event.module:
        record["module"] = event.module
    if event.code:
        record["code"] = event.code
    if event.readings is not None:
        record["cell_v"] = list(event.readings.cell_v)
        record["temp_c"] = list(event.readings.temp_c)
    if event.disable_reason is not None:
        record["disable_reason"] = event.disable_reason
    return record


def asset_record(string: int, module: int, *, cell_count: int, temp_count: int) -> dict[str, Any]:
    """A module announced to the backend: heard on the bus, with the site file's cell layout."""
    return {"string": string, "module": module, "cell_count": cell_count, "temp_count": temp_count}


def batch_body(
    *,
    edge_id: str,
    seq: int,
    site: str,
    created_at: float,
    counters: dict[str, Any],
    modules: list[dict[str, Any]],
    strings: list[dict[str, Any]],
    events: list[dict[str, Any]],
    assets: list[dict[str, Any]],
    systems: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A whole batch; (edge_id, seq) identifies it so a replay is harmless."""
    body = {
        "schema": SCHEMA,
        "edge_id": edge_id,
        "seq": seq,
        "site": site,
        "created_at": iso(created_at),
        "software_version": SOFTWARE_VERSION,
        "counters": counters,
        "modules": modules,
        "strings": strings,
        "events": events,
        "assets": assets,
    }
    if systems:
        # Optional in v1: sent only by sites whose mapping has a system message.
        body["systems"] = systems
    return body
