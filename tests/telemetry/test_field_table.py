"""A new string or system value is one line in the field table plus a migration: nothing else.

The backend runs with one line appended to STRING_MEASURES and one to SYSTEM_MEASURES
(tests/telemetry/extra_field_serve.py) on a database given the new columns by hand, as their
migration would. Each value is then refused out of range with its name, stored, shown in the
latest state and the API's schema, and exported, with no other file changed.
"""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from app.telemetry.fields import STRING_MEASURES, SYSTEM_MEASURES
from app.telemetry.schemas import RACK_SAMPLE_COLUMNS
from tests.db import drop_database, migrate, psycopg_dsn, query_rows, recreate_database
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer, live_server
from tests.telemetry.extra_field_serve import DC_LINK, GRID_HZ
from tests.wire import T0, batch, iso, post_batch, string_row

DATABASE = "ridethrough_field_table"
HOUR = timedelta(hours=1)
MIGRATION = (  # what its migration would do
    "ALTER TABLE rack_sample ADD COLUMN dc_link_v real",
    "ALTER TABLE rack_latest ADD COLUMN dc_link_v real",
    "ALTER TABLE system_sample ADD COLUMN grid_hz real",
    "ALTER TABLE system_latest ADD COLUMN grid_hz real",
)


@pytest.fixture(scope="module")
def extended() -> Iterator[tuple[LiveServer, str]]:
    """A backend whose field table has one more line, on a database migrated for it."""
    url = recreate_database(DATABASE)
    migrate(url)
    with psycopg.connect(psycopg_dsn(url), autocommit=True) as conn:
        for statement in MIGRATION:
            conn.execute(statement)
    try:
        env = {"RIDETHROUGH_DATABASE_URL": url}
        with live_server(env, module="tests.telemetry.extra_field_serve") as server:
            yield server, url
    finally:
        drop_database(DATABASE)


@pytest.fixture(scope="module")
async def site(extended: tuple[LiveServer, str]) -> DeviceSite:
    """A committed site with an edge device on the extended database."""
    engine = create_async_engine(extended[1])
    try:
        return await committed_device_site(engine)
    finally:
        await engine.dispose()


def strings(site: DeviceSite, seq: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A batch of the site with these string rows."""
    return batch(site.code, seq, strings=rows)


def test_the_new_lines_are_not_in_the_real_table() -> None:
    """Guard: the fields are new, so whatever shows them below comes from the added lines;
    and this process (which imported the runner) still has the real table."""
    assert DC_LINK.name not in {m.name for m in STRING_MEASURES}
    assert GRID_HZ.name not in {m.name for m in SYSTEM_MEASURES}
    assert DC_LINK.name not in RACK_SAMPLE_COLUMNS


def test_the_new_value_is_checked_stored_shown_and_exported(
    extended: tuple[LiveServer, str], site: DeviceSite
) -> None:
    server, url = extended
    at = [T0 + timedelta(seconds=s) for s in range(3)]
    # The strict decoder takes a clean batch; a batch with one bad row takes the row-by-row path.
    clean = strings(site, 1, [string_row(1, at[0], dc_link_v=801.5)])
    assert post_batch(server, site.token, clean).json()["strings"]["stored"] == 1
    mixed = [string_row(1, at[1], dc_link_v=802.25), string_row(1, at[2], dc_link_v=1600.0)]
    answer = post_batch(server, site.token, strings(site, 2, mixed)).json()
    assert answer["strings"]["stored"] == 1
    (refused,) = answer["rejections"]
    assert (refused["field"], refused["value"]) == ("dc_link_v", 1600.0)
    assert "less than or equal to 1500" in refused["reason"]

    stored = query_rows(
        psycopg_dsn(url), "SELECT dc_link_v FROM rack_sample WHERE ts < %s ORDER BY ts", at[2]
    )
    assert [v for (v,) in stored][-2:] == [801.5, 802.25]
    api = server.client("operator")
    latest = api.get(f"/api/v1/sites/{site.code}/latest").json()["strings"]
    assert next(s for s in latest if s["string"] == 1)["dc_link_v"] == 802.25
    schema = api.get("/api/openapi.json").json()["components"]["schemas"]["StringLatest"]
    assert schema["properties"]["dc_link_v"]["description"] == "DC link voltage at the PCS"

    params = {"entity": "string", "fields": "dc_link_v", "start": iso(at[0]), "end": iso(at[2])}
    rows = api.get(f"/api/v1/sites/{site.code}/telemetry", params=params).json()["items"]
    assert [r["values"]["dc_link_v"] for r in rows if r["string"] == 1] == [801.5, 802.25]


def test_a_new_system_value_is_checked_stored_shown_and_exported(
    extended: tuple[LiveServer, str], site: DeviceSite
) -> None:
    server, url = extended
    rows = [
        {"ts": iso(T0), "soc_pct": 60.0, "grid_hz": 50.02},
        {"ts": iso(T0 + timedelta(seconds=1)), "soc_pct": 60.0, "grid_hz": 70.0},
    ]
    answer = post_batch(server, site.token, batch(site.code, 3) | {"systems": rows}).json()
    assert answer["systems"]["stored"] == 1
    (refused,) = answer["rejections"]
    assert (refused["field"], refused["value"]) == ("grid_hz", 70.0)

    (stored,) = query_rows(psycopg_dsn(url), "SELECT grid_hz FROM system_sample")
    assert stored[0] == pytest.approx(50.02)
    api = server.client("operator")
    latest = api.get(f"/api/v1/sites/{site.code}/latest").json()["system"]
    assert latest["grid_hz"] == pytest.approx(50.02)
    params = {"entity": "system", "fields": "grid_hz", "start": iso(T0), "end": iso(T0 + HOUR)}
    (row,) = api.get(f"/api/v1/sites/{site.code}/telemetry", params=params).json()["items"]
    assert row["values"]["grid_hz"] == pytest.approx(50.02)
