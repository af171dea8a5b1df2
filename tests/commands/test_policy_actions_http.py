"""Actions the edge's local policy took by itself, recorded over real HTTP: as edge_policy
commands, once however often they are reported, and on the isolation their feedback opened
whichever arrives first."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.wire import T0, batch, event, iso, post_batch

OPEN = {"contactor_closed": 0, "current_a": 0.0, "charge_limit_a": 140, "discharge_limit_a": 140}


def action(
    ref: str, kind: str = "isolate_string", string: int | None = 2, **extra: Any
) -> dict[str, Any]:
    """A policy action report: cell_ov_alarm on module 2 at T0 + 0.5 s, sent 10 ms later."""
    body: dict[str, Any] = {
        "ref": f"edge-1:{ref}",
        "kind": kind,
        "string": string,
        "trigger": {
            "tier": "alarm",
            "code": "cell_ov_alarm",
            "onset_at": iso(T0 + timedelta(seconds=0.5)),
            "string": string or 1,
            "module": 2,
        },
        "sent_at": iso(T0 + timedelta(seconds=0.51)),
        "outcome": "acked",
        "acked_at": iso(T0 + timedelta(seconds=0.52)),
        "detail": "",
        "reported_at": iso(T0 + timedelta(seconds=0.6)),
    }
    body.update(extra)
    return body


def record(server: LiveServer, site: DeviceSite, body: dict[str, Any]) -> httpx.Response:
    """The edge's report."""
    return server.http.post(
        f"{server.url}/api/v1/edge/policy-actions",
        json=body,
        timeout=10,
        headers={"Authorization": f"Bearer {site.token}"},
    )


def isolations(dsn: str, site: DeviceSite) -> list[tuple[Any, ...]]:
    """(string, isolated_by, reason, command_id, onset_at, isolated_at) per isolation."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT r.index, i.isolated_by, i.reason, i.command_id, i.onset_at, i.isolated_at "
            "FROM isolation i JOIN rack r ON r.id = i.rack_id WHERE i.site_id = %s "
            "ORDER BY r.index",
            (site.site_id,),
        ).fetchall()


def feedback(string: int, seq: int) -> dict[str, Any]:
    """The telemetry batch with the alarm and the contactor opening 30 ms after it."""
    return {
        "seq": seq,
        "events": [
            event("fault_raised", 0.5, string, 2, "cell_ov_alarm"),
            event("contactor_opened", 0.53, string),
        ],
    }


async def test_recorded_once_verified_and_on_the_isolation_when_reported_first(
    engine: AsyncEngine, server: LiveServer, test_database_url: str
) -> None:
    site = await committed_device_site(engine, racks=3)
    body = action("1", evidence={"2.0": OPEN})
    first = record(server, site, body)
    assert first.status_code == 201, first.text
    command = first.json()
    assert (command["origin"], command["kind"], command["string"]) == (
        "edge_policy",
        "isolate_string",
        2,
    )
    assert command["state"] == "verified"
    assert command["note"] == "edge policy, alarm tier: cell_ov_alarm at string 2 module 2"
    assert command["requested_by"].startswith("edge policy")
    again = record(server, site, body)  # the answer was lost; the edge reports again
    assert again.status_code == 200
    assert again.json()["id"] == command["id"]

    telemetry = feedback(2, 1)
    assert post_batch(server, site.token, batch(site.code, **telemetry)).status_code == 200
    dsn = psycopg_dsn(test_database_url)
    ((string, by, reason, command_id, onset, isolated),) = isolations(dsn, site)
    assert (string, by, reason, command_id) == (2, "edge_policy", "fault", command["id"])
    assert (isolated - onset).total_seconds() == 0.03
    with psycopg.connect(dsn) as conn:
        audited = conn.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'command.policy' AND site_id = %s",
            (site.site_id,),
        ).fetchone()
        commands = conn.execute(
            "SELECT count(*) FROM command WHERE site_id = %s", (site.site_id,)
        ).fetchone()
    assert audited == (1,)
    assert commands == (1,)


async def test_an_isolation_seen_first_is_attached_when_the_report_arrives(
    engine: AsyncEngine, server: LiveServer, test_database_url: str
) -> None:
    site = await committed_device_site(engine, racks=3)
    telemetry = feedback(3, 1)  # the link was down: telemetry and report arrive in any order
    assert post_batch(server, site.token, batch(site.code, **telemetry)).status_code == 200
    dsn = psycopg_dsn(test_database_url)
    assert isolations(dsn, site)[0][1] == "bms"  # nothing else known yet
    recorded = record(server, site, action("2", string=3)).json()
    ((string, by, reason, command_id, _, _),) = isolations(dsn, site)
    assert (string, by, reason, command_id) == (3, "edge_policy", "fault", recorded["id"])


async def test_a_trip_accounts_for_every_string_it_opened(
    engine: AsyncEngine, server: LiveServer, test_database_url: str
) -> None:
    site = await committed_device_site(engine, racks=3)
    trip = action("3", kind="trip", string=None)
    trip["trigger"]["tier"] = "safety"
    recorded = record(server, site, trip)
    assert recorded.status_code == 201, recorded.text
    events = [event("contactor_opened", 0.53, s) for s in (1, 2, 3)]
    assert post_batch(server, site.token, batch(site.code, 1, events=events)).status_code == 200
    found = isolations(psycopg_dsn(test_database_url), site)
    assert [(s, by, cid) for s, by, _, cid, _, _ in found] == [
        (s, "edge_policy", recorded.json()["id"]) for s in (1, 2, 3)
    ]


async def test_a_refused_action_fails_and_raises_an_alarm(
    engine: AsyncEngine, server: LiveServer, test_database_url: str
) -> None:
    site = await committed_device_site(engine, racks=3)
    refusal = "edge interlock: this is the last connected string"
    body = action("4", outcome="refused", acked_at=None, detail=refusal)
    command = record(server, site, body).json()
    assert command["state"] == "failed"
    assert command["result"]["detail"] == refusal
    with psycopg.connect(psycopg_dsn(test_database_url)) as conn:
        alarm = conn.execute(
            "SELECT message FROM alarm WHERE site_id = %s AND code = 'command_failed'",
            (site.site_id,),
        ).fetchone()
    assert alarm is not None
    assert refusal in alarm[0]


async def test_bad_reports_are_refused_with_the_reason(
    engine: AsyncEngine, server: LiveServer, test_database_url: str
) -> None:
    site = await committed_device_site(engine, racks=3)
    early = action("5", sent_at=iso(T0))  # before the onset it answers
    answer = record(server, site, early)
    assert answer.status_code == 422
    assert "trigger.onset_at is after sent_at" in answer.text
    assert "acts on string" in record(server, site, action("6", string=None)).text
    unknown = record(server, site, action("7", string=9))
    assert unknown.status_code == 422
    assert "this site has no string 9" in unknown.text
    async with server.async_client() as client:
        request = {"kind": "trip", "reason": "fault", "note": "stop it"}
        trip = await client.post(f"{server.url}/api/v1/sites/{site.code}/commands", json=request)
    assert trip.status_code == 422
    assert "edge safety policy" in trip.text
    with psycopg.connect(psycopg_dsn(test_database_url)) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM command WHERE site_id = %s", (site.site_id,)
        ).fetchone()
    assert stored == (0,)  # nothing refused was stored


async def test_times_from_an_edge_clock_ahead_are_kept_no_later_than_received(
    engine: AsyncEngine, server: LiveServer
) -> None:
    site = await committed_device_site(engine, racks=3)
    future = "2099-01-01T00:00:00.000Z"
    trigger = {**action("x")["trigger"], "onset_at": future}
    body = action(
        "ahead",
        kind="derate",
        pct=50,
        sent_at=future,
        acked_at=future,
        reported_at=future,
        trigger=trigger,
    )
    before = datetime.now(UTC)
    answer = record(server, site, body)
    after = datetime.now(UTC)
    assert answer.status_code == 201, answer.text
    view = answer.json()
    # An acked action waits for its effect at most the verification timeout from now: never
    # until 2099. The edge's own times stay in the audit log.
    for name in ("requested_at", "sent_at", "acked_at", "fault_onset_at"):
        assert before <= datetime.fromisoformat(view[name]) <= after, name
    deadline = datetime.fromisoformat(view["deadline_at"])
    assert deadline <= after + timedelta(seconds=15)
    assert view["result"]["clock"] == (
        "times the edge gave after the backend's clock were recorded as received"
    )
