"""System (pack-level) samples over real HTTP: stored with the same sign and bounds, refused
rows named with field, value and reason, never dropped in silence."""

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn, query_rows
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.wire import T0, batch, iso, post_batch

pytestmark = pytest.mark.usefixtures("server")


@pytest.fixture
async def site(engine: AsyncEngine) -> DeviceSite:
    """A committed factory site with an edge device."""
    return await committed_device_site(engine)


def system_row(seconds: float, **overrides: Any) -> dict[str, Any]:
    """A plausible pack-level sample at T0 + seconds (discharging 120 A at 800 V)."""
    row = {
        "ts": iso(T0 + timedelta(seconds=seconds)),
        "quality": 0,
        "soc_pct": 61.5,
        "soh_pct": 97.0,
        "voltage_v": 800.0,
        "current_a": 120.0,
        "charge_limit_a": 250.0,
        "discharge_limit_a": 300.0,
        "charge_limit_kw": 180.0,
        "discharge_limit_kw": 215.0,
    }
    return row | overrides


def with_systems(site: DeviceSite, seq: int, rows: Any) -> dict[str, Any]:
    """A batch of the site carrying these system rows."""
    return batch(site.code, seq) | {"systems": rows}


def stored(url: str, site_id: int) -> list[tuple[Any, ...]]:
    """(seconds after T0, soc, current, power) of the site's system samples, oldest first."""
    rows = query_rows(
        psycopg_dsn(url),
        "SELECT ts, soc_pct, current_a, power_kw FROM system_sample WHERE site_id = %s ORDER BY ts",
        site_id,
    )
    return [((ts - T0).total_seconds(), soc, amps, kw) for ts, soc, amps, kw in rows]


def test_good_rows_are_stored_once_and_the_latest_moves_forward(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    rows = [system_row(0), system_row(1, current_a=-40.0, power_kw=-31.5)]
    answer = post_batch(server, site.token, with_systems(site, 1, rows))
    assert answer.status_code == 200, answer.text
    assert answer.json()["systems"] == {
        "received": 2,
        "stored": 2,
        "already_stored": 0,
        "rejected": 0,
    }
    # Power from V x I when the BMS gives none; the BMS's own when it does. Discharge positive.
    assert stored(test_database_url, site.site_id) == [
        (0, 61.5, 120.0, 96.0),
        (1, 61.5, -40.0, -31.5),
    ]
    again = post_batch(server, site.token, with_systems(site, 1, rows)).json()
    assert (again["duplicate_batch"], again["systems"]["already_stored"]) == (True, 2)
    older = post_batch(server, site.token, with_systems(site, 2, [system_row(-5, soc_pct=10.0)]))
    assert older.json()["systems"]["stored"] == 1
    latest = server.http.get(f"{server.url}/api/v1/sites/{site.code}/latest").json()["system"]
    assert (latest["current_a"], latest["power_kw"]) == (-40.0, -31.5)  # not moved backwards


@pytest.mark.parametrize(
    "case",
    [
        ({"voltage_v": 2500.0}, "voltage_v", 2500.0, "less than or equal to 2000"),
        ({"current_a": -60000.0}, "current_a", -60000.0, "greater than or equal to -50000"),
        ({"charge_limit_kw": -1.0}, "charge_limit_kw", -1.0, "greater than or equal to 0"),
        ({"soc_pct": 101.0}, "soc_pct", 101.0, "less than or equal to 100"),
        ({"pack_soc": 50.0}, "pack_soc", 50.0, "Extra inputs are not permitted"),
        ({"ts": "2026-12-05T10:00:00"}, "ts", "2026-12-05T10:00:00", "timezone info"),
    ],
)
def test_a_bad_row_is_refused_by_field_value_and_reason_and_the_others_stored(
    server: LiveServer,
    site: DeviceSite,
    test_database_url: str,
    case: tuple[dict[str, Any], str, Any, str],
) -> None:
    overrides, field, value, reason = case
    rows = [system_row(0), system_row(1, **overrides)]
    answer = post_batch(server, site.token, with_systems(site, 1, rows))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["systems"]["stored"] == 1
    (rejection,) = body["rejections"]
    assert (rejection["section"], rejection["row"], rejection["field"]) == ("systems", 1, field)
    assert rejection["value"] == value
    assert reason in rejection["reason"]
    kept = query_rows(
        psycopg_dsn(test_database_url),
        "SELECT section, row_index, field FROM ingest_rejection WHERE site_id = %s",
        site.site_id,
    )
    assert kept == [("systems", 1, field)]  # kept for the site's operators, not only answered
    assert len(stored(test_database_url, site.site_id)) == 1


def test_two_samples_for_one_time_and_a_time_far_ahead_are_refused(
    server: LiveServer, site: DeviceSite
) -> None:
    rows = [system_row(0), system_row(0, soc_pct=70.0), system_row(10 * 86400)]
    body = post_batch(server, site.token, with_systems(site, 1, rows)).json()
    reasons = {r["row"]: (r["field"], r["reason"]) for r in body["rejections"]}
    assert reasons[1] == ("ts", "a second system sample for the same time in this batch")
    assert reasons[2][0] == "ts"
    assert "in the future" in reasons[2][1]


def test_a_systems_section_that_is_not_a_list_is_a_422_naming_it(
    server: LiveServer, site: DeviceSite
) -> None:
    answer = post_batch(server, site.token, with_systems(site, 1, {"soc_pct": 50}))
    assert answer.status_code == 422
    details = answer.json()["error"]["details"]
    assert [d["field"] for d in details] == ["systems"]
    assert "valid list" in details[0]["message"]
