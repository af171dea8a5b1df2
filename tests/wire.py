"""Builders of wire batches (ridethrough.telemetry.v1) for ingest tests."""

import gzip
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.server import LiveServer


def recent_morning(now: datetime, *, at_least: timedelta = timedelta(hours=3)) -> datetime:
    """The latest 10:00 UTC at least `at_least` before `now`: recent enough for every window
    and range check that compares with the clock, in the past by more than any test writes."""
    anchor = now.replace(hour=10, minute=0, second=0, microsecond=0)
    return anchor if now - anchor >= at_least else anchor - timedelta(days=1)


# Relative to the clock, not a fixed date: rows must stay inside "not in the future" checks,
# recent KPI windows and the raw retention age on whatever day the suite runs.
T0 = recent_morning(datetime.now(UTC))


def iso(ts: datetime) -> str:
    """The wire's timestamp format."""
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def module_row(string: int, module: int, ts: datetime, **overrides: Any) -> dict[str, Any]:
    """A plausible 16-cell, 4-sensor module sample."""
    row: dict[str, Any] = {
        "ts": iso(ts),
        "string": string,
        "module": module,
        "cell_v": [round(3.29 + 0.001 * (i % 5), 3) for i in range(16)],
        "temp_c": [24.5, 25.0, 25.5, 24.0],
        "quality": 0,
        "soc_pct": 55.5,
        "soh_pct": 98.0,
        "voltage_v": 52.7,
        "current_a": -40.0,
        "balancing": 0,
        "fault_bits": 0,
        "status_bits": 3,
        "bypassed": False,
    }
    row.update(overrides)
    return row


def string_row(string: int, ts: datetime, **overrides: Any) -> dict[str, Any]:
    """A plausible string sample."""
    row: dict[str, Any] = {
        "ts": iso(ts),
        "string": string,
        "quality": 0,
        "voltage_v": 843.2,
        "current_a": -40.0,
        "soc_pct": 55.0,
        "soh_pct": 97.5,
        "contactor_closed": True,
        "contactor_fault": False,
        "enabled": True,
        "disable_reason": 0,
        "charge_limit_a": 140.0,
        "discharge_limit_a": 140.0,
        "insulation_kohm": 5000.0,
        "n_mod_connected": 3,
        "n_mod_bypassed": 0,
        "energy_charged_kwh": 10.5,
        "energy_discharged_kwh": 9.8,
        "fault_bits": 0,
    }
    row.update(overrides)
    return row


def batch(
    site: str,
    seq: int,
    *,
    modules: list[dict[str, Any]] | None = None,
    strings: list[dict[str, Any]] | None = None,
    events: list[dict[str, Any]] | None = None,
    edge_id: str | None = None,
) -> dict[str, Any]:
    """A batch envelope around rows."""
    return {
        "schema": "ridethrough.telemetry.v1",
        "edge_id": edge_id or str(uuid.UUID(int=7)),
        "seq": seq,
        "site": site,
        "created_at": iso(T0 + timedelta(seconds=seq)),
        "software_version": "test",
        "counters": {"frames": 1},
        "modules": modules or [],
        "strings": strings or [],
        "events": events or [],
    }


def full_site_rows(ts: datetime, strings: int = 2, modules: int = 3) -> dict[str, Any]:
    """Module and string rows for every asset of a factory site at one time."""
    return {
        "modules": [
            module_row(s, m, ts) for s in range(1, strings + 1) for m in range(1, modules + 1)
        ],
        "strings": [string_row(s, ts) for s in range(1, strings + 1)],
    }


def event(
    kind: str,
    seconds: float,
    string: int,
    module: int | None = None,
    code: str | None = None,
    **readings: list[float],
) -> dict[str, Any]:
    """A wire event at T0 + seconds; a module fault may carry the readings it rose with
    (cell_v=[...], temp_c=[...])."""
    row: dict[str, Any] = {
        "ts": iso(T0 + timedelta(seconds=seconds)),
        "kind": kind,
        "target": "module" if module else "string",
        "string": string,
    }
    if module:
        row["module"] = module
    if code:
        row["code"] = code
    return row | readings


def post_batch(
    server: LiveServer, token: str, body: dict[str, Any], *, gz: bool = True
) -> httpx.Response:
    """Send a batch as the edge does (gzip JSON with a bearer token)."""
    data = json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if gz:
        data = gzip.compress(data)
        headers["Content-Encoding"] = "gzip"
    return httpx.post(f"{server.url}/api/v1/ingest", content=data, headers=headers, timeout=30)
