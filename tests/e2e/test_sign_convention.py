"""One sign convention across the product, SunSpec's (positive is discharge), end to end.

A simulated site discharges at a known set-point through the real path (simulated BMS → python-can
virtual bus → edge → HTTP → TimescaleDB): the stored currents and powers, the site and string
pages, the API, the export and the interlock must all read that as positive, discharging.
"""

import asyncio
import io
import re
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from sqlalchemy.ext.asyncio import AsyncEngine

from app.telemetry.sign import CONVENTION
from tests.db import psycopg_dsn, query_rows
from tests.e2e.test_resilience import FAST_SIM, stop_edge
from tests.edge_process import REFERENCE_MAPPING, edge_env, start_edge, write_site_file
from tests.factories import committed_device_site
from tests.server import LiveServer

SETPOINT_KW = 30.0  # discharging: about 95 A on each of two ~158 V strings
DISCHARGE_S = 5.0  # five simulated minutes at 60x: about 3 % of the strings' charge
DATA_WITHIN_S = 20.0


async def wait_for_strings(dsn: str, site_id: int, count: int) -> None:
    """Until every string of the site has a stored sample carrying current (or time is up)."""
    deadline = time.monotonic() + DATA_WITHIN_S
    sql = (
        "SELECT count(*) FROM rack_latest l JOIN rack r ON r.id = l.rack_id "
        "WHERE r.site_id = %s AND l.current_a <> 0"
    )
    while True:
        if query_rows(dsn, sql, site_id) == [(count,)] or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.25)


def stored_strings(dsn: str, site_id: int) -> dict[int, list[tuple[Any, ...]]]:
    """Each string's stored samples in time order: current, power, SoC, energy in and out."""
    rows = query_rows(
        dsn,
        "SELECT r.index, s.current_a, s.power_kw, s.soc_pct, s.energy_charged_kwh, "
        "s.energy_discharged_kwh FROM rack_sample s JOIN rack r ON r.id = s.rack_id "
        "WHERE r.site_id = %s ORDER BY r.index, s.ts",
        site_id,
    )
    out: dict[int, list[tuple[Any, ...]]] = {}
    for index, *values in rows:
        out.setdefault(index, []).append(tuple(values))
    return out


def shown(html: str, label: str) -> tuple[str, float]:
    """A labelled figure of a page's summary: its tooltip and its number."""
    found = re.search(rf'<dt><dfn title="([^"]*)">{label}</dfn></dt><dd>([-\d.]+)', html)
    assert found is not None, f"{label} not found"
    return found[1], float(found[2])


def assert_discharging_storage(strings: dict[int, list[tuple[Any, ...]]]) -> None:
    """Stored current and power positive, SoC falling, only the discharge counter growing."""
    assert sorted(strings) == [1, 2]
    for samples in strings.values():
        assert all(current > 0 and power > 0 for current, power, *_ in samples), samples
        (_, _, soc_first, in_first, out_first) = samples[0]
        (_, _, soc_last, in_last, out_last) = samples[-1]
        assert soc_last < soc_first, samples
        assert out_last > out_first  # the counter RTE reads as energy out
        assert in_last == in_first
    latest_kw = sum(samples[-1][1] for samples in strings.values())
    assert abs(latest_kw - SETPOINT_KW) < 1.5, latest_kw


def assert_pages_show_it(server: LiveServer, code: str) -> None:
    """The site and string pages: positive figures, the convention in their tooltips."""
    tooltip, site_kw = shown(server.http.get(f"/sites/{code}").text, "Power")
    assert CONVENTION in tooltip
    assert abs(site_kw - SETPOINT_KW) < 1.5
    string_page = server.http.get(f"/sites/{code}/strings/1").text
    for label in ("Current", "Power"):
        tooltip, value = shown(string_page, label)
        assert CONVENTION in tooltip
        assert value > 0, label


def assert_api_and_export_show_it(server: LiveServer, code: str) -> None:
    """The API's site, latest state and telemetry, and a Parquet export: positive, described."""
    api = server.http
    assert abs(api.get(f"/api/v1/sites/{code}").json()["power_kw"] - SETPOINT_KW) < 1.5
    latest = api.get(f"/api/v1/sites/{code}/latest").json()["strings"]
    assert all(s["current_a"] > 0 and s["power_kw"] > 0 for s in latest), latest
    schemas = api.get("/api/openapi.json").json()["components"]["schemas"]
    assert CONVENTION in schemas["StringLatest"]["properties"]["current_a"]["description"]
    fields = {"entity": "string", "fields": "current_a,power_kw"}
    rows = api.get(f"/api/v1/sites/{code}/telemetry", params=fields).json()["items"]
    assert rows
    assert all(r["values"]["current_a"] > 0 and r["values"]["power_kw"] > 0 for r in rows)
    exported = api.get(f"/api/v1/sites/{code}/export", params={**fields, "format": "parquet"})
    table = pq.read_table(io.BytesIO(exported.content))
    for name in ("current_a", "power_kw"):
        assert CONVENTION in table.schema.field(name).metadata[b"description"].decode()
        assert min(table.column(name).to_pylist()) > 0


def assert_interlock_calls_it_discharge(server: LiveServer, code: str) -> None:
    """Isolating a string is refused because the other cannot carry the discharge current."""
    refused = server.http.post(
        f"/api/v1/sites/{code}/commands",
        json={"kind": "isolate_string", "string": 1, "reason": "maintenance", "note": "sign e2e"},
    )
    assert refused.status_code == 409, refused.text
    message = refused.json()["error"]["message"]
    assert re.search(r"the site is carrying 1\d\d A of discharge current", message), message


async def test_a_site_discharging_reads_positive_from_the_bms_to_the_interlock(
    engine: AsyncEngine, server: LiveServer, test_database_url: str, tmp_path: Path
) -> None:
    site = await committed_device_site(engine)
    site_file = write_site_file(
        tmp_path,
        code=site.code,
        mapping=REFERENCE_MAPPING,
        simulator=f"{FAST_SIM}\nsetpoint_kw = {SETPOINT_KW:g}",
    )
    env = edge_env(backend=server.url, token=site.token, spool=tmp_path / "spool.sqlite3")
    edge = start_edge(["simulate", "--config", str(site_file)], env)
    dsn = psycopg_dsn(test_database_url)
    try:
        await wait_for_strings(dsn, site.site_id, count=2)
        await asyncio.sleep(DISCHARGE_S)
        assert_pages_show_it(server, site.code)
        assert_api_and_export_show_it(server, site.code)
        assert_interlock_calls_it_discharge(server, site.code)
    finally:
        output = stop_edge(edge)
    strings = stored_strings(dsn, site.site_id)
    assert strings, output
    assert_discharging_storage(strings)
    modules = query_rows(
        dsn,
        "SELECT min(s.current_a) FROM module_sample s JOIN module m "
        "ON m.id = s.module_id JOIN rack r ON r.id = m.rack_id "
        "WHERE r.site_id = %s",
        site.site_id,
    )
    assert modules[0][0] > 0  # each module's own current frame counts discharge positive too
