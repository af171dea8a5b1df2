"""An isolation's onset is the fault that caused it, over real HTTP: the edge policy's trigger
or the alarm an operator's command names, never an older, unrelated alarm on the string."""

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.wire import T0, batch, event, full_site_rows, iso, post_batch

OPEN = {"contactor_closed": 0, "current_a": 0.0, "charge_limit_a": 140, "discharge_limit_a": 140}


def policy_isolation(string: int) -> dict[str, Any]:
    """The edge policy isolating a string on cell_ov_alarm (module 2, T0 + 0.5 s), sent 10 ms
    after the fault frame."""
    return {
        "ref": f"edge-1:onset-{string}",
        "kind": "isolate_string",
        "string": string,
        "trigger": {
            "tier": "alarm",
            "code": "cell_ov_alarm",
            "onset_at": iso(T0 + timedelta(seconds=0.5)),
            "string": string,
            "module": 2,
        },
        "sent_at": iso(T0 + timedelta(seconds=0.51)),
        "outcome": "acked",
        "acked_at": iso(T0 + timedelta(seconds=0.52)),
        "reported_at": iso(T0 + timedelta(1)),
    }


def edge(site: DeviceSite) -> dict[str, str]:
    """The edge's credentials."""
    return {"Authorization": f"Bearer {site.token}"}


def isolation_rows(url: str, site: DeviceSite) -> list[tuple[Any, ...]]:
    """(string, by, reason, fault code, onset, isolated) of the site's isolations."""
    with psycopg.connect(psycopg_dsn(url)) as conn:
        return conn.execute(
            "SELECT r.index, i.isolated_by, i.reason, i.fault_code, i.onset_at, i.isolated_at "
            "FROM isolation i JOIN rack r ON r.id = i.rack_id WHERE i.site_id = %s "
            "ORDER BY i.isolated_at",
            (site.site_id,),
        ).fetchall()


@pytest.mark.parametrize("report_first", [True, False])
async def test_a_policy_isolation_starts_at_its_trigger_not_an_older_warning(
    engine: AsyncEngine, server: LiveServer, test_database_url: str, report_first: bool
) -> None:
    # A cell under-voltage warning has stood on string 2 for 12 minutes when cell_ov_alarm
    # rises on module 2 (T0 + 0.5 s); the policy's isolation is sent 10 ms later and the
    # contactors open 0.4 s after the command (T0 + 0.91 s): 0.41 s to isolate, not 12.5 min.
    site = await committed_device_site(engine, racks=3)
    telemetry = batch(
        site.code,
        1,
        events=[
            event("fault_raised", -720, 2, 1, "cell_uv_warning"),
            event("fault_raised", 0.5, 2, 2, "cell_ov_alarm"),
            event("contactor_opened", 0.91, 2),
        ],
    )

    def report() -> None:
        answer = server.http.post(
            "/api/v1/edge/policy-actions", json=policy_isolation(2), headers=edge(site)
        )
        assert answer.status_code == 201, answer.text

    if report_first:
        report()
    assert post_batch(server, site.token, telemetry).status_code == 200
    if not report_first:
        report()
    ((string, by, reason, code, onset, isolated),) = isolation_rows(test_database_url, site)
    assert (string, by, reason, code) == (2, "edge_policy", "fault", "cell_ov_alarm")
    assert onset == T0 + timedelta(seconds=0.5)
    assert (isolated - onset).total_seconds() == pytest.approx(0.41)
    kpis = server.http.get(f"/api/v1/sites/{site.code}/kpis", params={"window": "7d"}).json()
    assert kpis["time_to_isolate"]["edge_policy"] == {
        "mean_s": pytest.approx(0.41),
        "count": 1,
        "median_s": None,
        "p90_s": None,
    }


@pytest.fixture
async def live_site(engine: AsyncEngine, server: LiveServer) -> DeviceSite:
    """A 3-string site with every string closed now, and two standing alarms on string 3: an
    old cell under-voltage warning and, five minutes ago, an insulation alarm."""
    site = await committed_device_site(engine, racks=3)
    now = datetime.now(UTC)
    body = batch(site.code, 1, **full_site_rows(now - timedelta(seconds=1), strings=3))
    body["events"] = [
        {
            "ts": iso(now - timedelta(minutes=15)),
            "kind": "fault_raised",
            "target": "module",
            "string": 3,
            "module": 2,
            "code": "cell_uv_warning",
        },
        {
            "ts": iso(now - timedelta(minutes=5)),
            "kind": "fault_raised",
            "target": "string",
            "string": 3,
            "code": "insulation_alarm",
        },
    ]
    assert post_batch(server, site.token, body).status_code == 200
    return site


def alarm_id(server: LiveServer, site: DeviceSite, code: str) -> tuple[int, datetime]:
    """The id and raise time of the site's standing alarm with this code."""
    items = server.http.get(f"/api/v1/sites/{site.code}/alarms").json()["items"]
    found = next(a for a in items if a["code"] == code)
    return found["id"], datetime.fromisoformat(found["raised_at"])


def isolate(server: LiveServer, site: DeviceSite, **request: Any) -> httpx.Response:
    """An operator isolating string 3 for a fault."""
    body = {"kind": "isolate_string", "string": 3, "reason": "fault", "note": "answering it"}
    return server.http.post(f"/api/v1/sites/{site.code}/commands", json=body | request)


def carry_out(server: LiveServer, site: DeviceSite, command_id: int) -> datetime:
    """The edge picks the command up, acts, and its contactors open; the opening's time."""
    delivered = server.http.get("/api/v1/edge/commands", headers=edge(site)).json()
    assert [c["id"] for c in delivered] == [command_id]
    time.sleep(0.4)
    opened = datetime.now(UTC)
    result = {"outcome": "acked", "at": iso(opened), "evidence": {"3.0": OPEN}}
    answer = server.http.post(
        f"/api/v1/edge/commands/{command_id}/result", json=result, headers=edge(site)
    )
    assert answer.status_code == 200, answer.text
    event = {"ts": iso(opened), "kind": "contactor_opened", "target": "string", "string": 3}
    assert post_batch(server, site.token, batch(site.code, 2, events=[event])).status_code == 200
    return opened


def test_an_operator_isolation_starts_at_the_alarm_it_names(
    server: LiveServer, live_site: DeviceSite, test_database_url: str
) -> None:
    insulation, raised = alarm_id(server, live_site, "insulation_alarm")
    queued = isolate(server, live_site, alarm_id=insulation)
    assert queued.status_code == 201, queued.text
    command = queued.json()
    assert (command["alarm_id"], command["fault_code"]) == (insulation, "insulation_alarm")
    opened = carry_out(server, live_site, command["id"])
    ((_, by, reason, code, onset, isolated),) = isolation_rows(test_database_url, live_site)
    # From the insulation alarm five minutes ago, not the warning of fifteen.
    assert (by, reason, code, onset) == ("operator", "fault", "insulation_alarm", raised)
    assert isolated == opened.replace(microsecond=opened.microsecond // 1000 * 1000)


def test_an_operator_isolation_naming_no_fault_counts_in_no_kpi(
    server: LiveServer, live_site: DeviceSite, test_database_url: str
) -> None:
    queued = isolate(server, live_site)
    assert queued.status_code == 201, queued.text
    carry_out(server, live_site, queued.json()["id"])
    ((_, by, reason, code, onset, isolated),) = isolation_rows(test_database_url, live_site)
    assert (by, reason, code) == ("operator", "fault", None)
    assert onset <= isolated  # from the request: the fault behind it is not known
    kpis = server.http.get(f"/api/v1/sites/{live_site.code}/kpis", params={"window": "24h"})
    assert kpis.json()["time_to_isolate"]["all"]["count"] == 0
    listed = server.http.get(f"/api/v1/sites/{live_site.code}/isolations").json()["items"]
    assert listed[0]["time_to_isolate_s"] is None


def test_a_named_alarm_must_be_a_fault_on_the_command_target(
    server: LiveServer, live_site: DeviceSite
) -> None:
    insulation, _ = alarm_id(server, live_site, "insulation_alarm")
    maintenance = isolate(server, live_site, alarm_id=insulation, reason="maintenance")
    assert maintenance.status_code == 422
    assert "a maintenance command answers no fault" in maintenance.text
    elsewhere = isolate(server, live_site, alarm_id=insulation, string=1)
    assert elsewhere.status_code == 409
    assert "is at string 3, not on the command's target" in elsewhere.json()["error"]["message"]
    unknown = isolate(server, live_site, alarm_id=insulation + 10_000)
    assert unknown.status_code == 409
    assert f"this site has no alarm {insulation + 10_000}" in unknown.json()["error"]["message"]
    returning = isolate(server, live_site, alarm_id=insulation, kind="return_string")
    assert returning.status_code == 422
    assert "return_string answers no alarm" in returning.text
