"""Pack-level (system) values from a mapping file alone: a BMS master's frames replayed through
the real edge into TimescaleDB, compared with plain cantools, then read back over the API and
in exports exactly as stored."""

import csv
import io
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import can
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn, query_rows
from tests.e2e.test_vendor_layouts import a_minute_ago, database, replay
from tests.server import LiveServer

SYSTEM_COLUMNS = (
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
Rows = dict[int, dict[str, float | None]]  # second -> column -> value


def master_frames(start: float, seconds: int) -> list[tuple[float, int, bytes]]:
    """The BMS master every second; its limits frame is missing in second 2 (last ones hold),
    and the pack charges (positive on this bus) then discharges."""
    db = database("bms_master")
    status, limits = (
        db.get_message_by_name("BMS_MasterStatus"),
        db.get_message_by_name("BMS_MasterLimits"),
    )
    frames = []
    for second in range(seconds):
        ts = start + second + 0.05
        values = {
            "PackSOC": 55.0 + second * 0.7,
            "PackSOH": 97.5,
            "PackVoltage": 800.0 + second,
            "PackCurrent": 150.5 - second * 100,
        }
        frames.append((ts, status.frame_id, status.encode(values)))
        if second != 2:
            caps = {
                "ChargeCurrentLimit": 250.0 - second,
                "DischargeCurrentLimit": 300.5,
                "ChargePowerLimit": 180_000 + second * 10,
                "DischargePowerLimit": 215_430,
            }
            frames.append((ts + 0.01, limits.frame_id, limits.encode(caps)))
    return frames


def in_model_terms(signals: dict[str, Any]) -> dict[str, float | None]:
    """The vendor's values as the model states them: discharge positive, kW, V x I power."""
    volts, amps = signals.get("PackVoltage"), signals.get("PackCurrent")
    current = None if amps is None else -float(amps)
    power = None if volts is None or current is None else round(volts * current / 1000, 3)
    kw = {
        k: None if signals.get(s) is None else signals[s] / 1000
        for k, s in (
            ("charge_limit_kw", "ChargePowerLimit"),
            ("discharge_limit_kw", "DischargePowerLimit"),
        )
    }
    return {
        "soc_pct": signals.get("PackSOC"),
        "soh_pct": signals.get("PackSOH"),
        "voltage_v": volts,
        "current_a": current,
        "power_kw": power,
        "charge_limit_a": signals.get("ChargeCurrentLimit"),
        "discharge_limit_a": signals.get("DischargeCurrentLimit"),
        **kw,
    }


def oracle(log: Path) -> Rows:
    """Per second with any master frame: the last values plain cantools decoded by then."""
    db = database("bms_master")
    known: dict[str, Any] = {}
    expected: Rows = {}
    second: int | None = None
    for message in can.LogReader(str(log)):
        now = math.floor(message.timestamp)
        if second is not None and now > second:
            expected[second] = in_model_terms(known)
        second = now
        known |= db.decode_message(
            message.arbitration_id, bytes(message.data), decode_choices=False
        )
    assert second is not None
    return expected | {second: in_model_terms(known)}


def stored(dsn: str, site_id: int) -> Rows:
    """The site's system samples in TimescaleDB, keyed like the oracle."""
    columns = ", ".join(SYSTEM_COLUMNS)
    rows = query_rows(
        dsn,
        f"SELECT extract(epoch FROM ts)::bigint, {columns} "  # noqa: S608 - constants
        "FROM system_sample WHERE site_id = %s",
        site_id,
    )
    return {int(t): dict(zip(SYSTEM_COLUMNS, values, strict=True)) for t, *values in rows}


def approx_rows(rows: Rows) -> dict[int, Any]:
    """Rows compared as single-precision storage keeps them (REAL columns)."""
    return {t: pytest.approx(values, rel=1e-6) for t, values in rows.items()}


def api_pages(server: LiveServer, code: str, params: dict[str, str]) -> list[dict[str, Any]]:
    """Every item of a paged telemetry query, following next_cursor."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = params | ({"cursor": cursor} if cursor else {})
        answer = server.http.get(f"{server.url}/api/v1/sites/{code}/telemetry", params=query)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


async def test_pack_values_replay_equal_to_the_oracle_and_read_back_as_stored(
    server: LiveServer, engine: AsyncEngine, test_database_url: str, tmp_path: Path
) -> None:
    start = a_minute_ago()
    site_id, log = await replay(
        server,
        engine,
        tmp_path,
        protocol="bms_master",
        strings=1,
        modules=1,
        frames=master_frames(start, 4),
    )
    expected = oracle(log)
    assert len(expected) == 4
    seconds = sorted(expected)
    limits = [expected[t]["charge_limit_a"] for t in seconds]
    assert limits == [250.0, 249.0, 249.0, 247.0]  # second 2 holds the last limits it had
    assert [expected[t]["current_a"] for t in seconds] == [-150.5, -50.5, 49.5, 149.5]
    dsn = psycopg_dsn(test_database_url)
    rows = stored(dsn, site_id)
    assert rows == approx_rows(expected)

    ((code,),) = query_rows(dsn, "SELECT code FROM site WHERE id = %s", site_id)
    newest = rows[max(rows)]
    latest = server.http.get(f"{server.url}/api/v1/sites/{code}/latest").json()["system"]
    assert {k: latest[k] for k in SYSTEM_COLUMNS} == newest  # exactly the stored values

    window = {"entity": "system", "start": _iso(start - 5), "end": _iso(start + 60)}
    items = api_pages(server, code, window | {"limit": "3", "fields": ",".join(SYSTEM_COLUMNS)})
    assert [(i["string"], i["module"]) for i in items] == [(None, None)] * 4
    assert {_epoch(i["ts"]): i["values"] for i in items} == rows

    export = server.http.get(
        f"{server.url}/api/v1/sites/{code}/export", params=window | {"format": "csv"}
    )
    assert export.status_code == 200, export.text
    csv_rows = list(csv.DictReader(io.StringIO(export.text)))
    assert {_epoch(r["ts"]): {k: float(r[k]) for k in SYSTEM_COLUMNS} for r in csv_rows} == rows
    assert {r["string"] for r in csv_rows} == {""}
    long = server.http.get(
        f"{server.url}/api/v1/sites/{code}/export",
        params=window | {"format": "ndjson", "layout": "long"},
    )
    lines = [json.loads(line) for line in long.text.splitlines()]
    assert {line["entity"] for line in lines} == {"system"}
    assert len(lines) == 4 * len(SYSTEM_COLUMNS)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
