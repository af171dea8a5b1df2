"""Command lifecycle over real HTTP: queue, long-poll delivery, report, verify, refuse, expire."""

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.wire import batch, full_site_rows, post_batch, string_row


@pytest.fixture
async def site(engine: AsyncEngine, server: LiveServer) -> DeviceSite:
    """A 3-string site with fresh telemetry: every string closed and carrying 40 A."""
    site = await committed_device_site(engine, racks=3)
    now = datetime.now(UTC)
    body = batch(site.code, 1, **full_site_rows(now, strings=3))
    assert post_batch(server, site.token, body).status_code == 200
    return site


def edge_headers(site: DeviceSite) -> dict[str, str]:
    """The edge's credentials."""
    return {"Authorization": f"Bearer {site.token}"}


def queue(server: LiveServer, site: DeviceSite, **request: Any) -> httpx.Response:
    """An operator's command request."""
    body = {"reason": "maintenance", "note": "planned work", **request}
    return server.http.post(
        f"{server.url}/api/v1/sites/{site.code}/commands", json=body, timeout=10
    )


def poll(server: LiveServer, site: DeviceSite, wait: float = 0) -> list[dict[str, Any]]:
    """One long poll by the edge."""
    response = server.http.get(
        f"{server.url}/api/v1/edge/commands",
        params={"wait": wait},
        headers=edge_headers(site),
        timeout=wait + 10,
    )
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


def report(
    server: LiveServer, site: DeviceSite, command_id: int, outcome: str, detail: str = ""
) -> dict[str, Any]:
    """The edge's report of what it did."""
    response = server.http.post(
        f"{server.url}/api/v1/edge/commands/{command_id}/result",
        json={"outcome": outcome, "detail": detail, "at": datetime.now(UTC).isoformat()},
        headers=edge_headers(site),
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def state(url: str, command_id: int) -> str:
    """A command's state in the database."""
    with psycopg.connect(psycopg_dsn(url)) as conn:
        row = conn.execute("SELECT state FROM command WHERE id = %s", (command_id,)).fetchone()
    assert row is not None
    return str(row[0])


def test_isolate_string_from_queue_to_verified(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    queued = queue(server, site, kind="isolate_string", string=2)
    assert queued.status_code == 201, queued.text
    command = queued.json()
    assert (command["state"], command["string"], command["reason"]) == ("queued", 2, "maintenance")
    delivered = poll(server, site)
    assert [(c["id"], c["kind"], c["string"]) for c in delivered] == [
        (command["id"], "isolate_string", 2)
    ]
    # Until the edge reports, a repeated poll hands the same command again (never a new one).
    assert [c["id"] for c in poll(server, site)] == [command["id"]]
    assert report(server, site, command["id"], "acked")["state"] == "acked"
    assert report(server, site, command["id"], "acked")["state"] == "acked"  # repeat: no change
    assert poll(server, site) == []
    # Telemetry from before the contactor opened does not verify it; this does:
    now = datetime.now(UTC)
    opened = [string_row(2, now, contactor_closed=False, current_a=0.2)]
    post_batch(server, site.token, batch(site.code, 2, strings=opened))
    assert state(test_database_url, command["id"]) == "verified"
    listed = server.http.get(f"{server.url}/api/v1/sites/{site.code}/commands").json()["items"]
    mine = next(c for c in listed if c["id"] == command["id"])
    assert mine["result"]["verified_by"] == "contactor open, 0.2 A"
    assert mine["sent_at"] <= mine["acked_at"] <= mine["verified_at"]


def test_interlocks_refuse_with_the_reason(server: LiveServer, site: DeviceSite) -> None:
    first = queue(server, site, kind="derate", string=1, pct=50)
    conflict = queue(server, site, kind="isolate_string", string=1)
    unknown = queue(server, site, kind="isolate_string", string=9)
    assert first.status_code == 201
    assert conflict.status_code == 409
    assert conflict.json()["error"]["message"].startswith(
        f"command #{first.json()['id']} (derate) is still in flight"
    )
    assert unknown.status_code == 409
    assert unknown.json()["error"]["message"] == (
        "this site has no string 9; choose a string from 1 to 3"
    )


def test_the_last_connected_string_stays(server: LiveServer, site: DeviceSite) -> None:
    now = datetime.now(UTC)
    strings = [
        string_row(1, now, contactor_closed=False, current_a=0.0),
        string_row(2, now, contactor_closed=False, current_a=0.0),
    ]
    post_batch(server, site.token, batch(site.code, 2, strings=strings))
    refused = queue(server, site, kind="isolate_string", string=3)
    assert refused.status_code == 409
    assert refused.json()["error"]["details"] == [
        {
            "reason": "this is the last connected string; isolating it would trip the site",
            "remedy": "return another string to service first",
        }
    ]


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({"kind": "derate", "string": 1}, "exactly one of pct or kw"),
        ({"kind": "isolate_module", "string": 1}, "needs a string and a module"),
        ({"kind": "isolate_string", "string": 1, "note": ""}, "note"),
        ({"kind": "isolate_string", "string": 1, "reason": "bored"}, "reason"),
    ],
)
def test_invalid_requests_name_the_problem(
    server: LiveServer, site: DeviceSite, request_body: dict[str, Any], field: str
) -> None:
    response = queue(server, site, **request_body)
    assert response.status_code == 422
    assert field in response.text


def test_cancelled_and_expired_commands_are_never_delivered(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    cancelled = queue(server, site, kind="return_string", string=1).json()
    stale = queue(server, site, kind="set_balancing", string=2, enabled=True).json()
    cancel = server.http.post(
        f"{server.url}/api/v1/sites/{site.code}/commands/{cancelled['id']}/cancel"
    )
    assert cancel.json()["state"] == "cancelled"
    with psycopg.connect(psycopg_dsn(test_database_url)) as conn:
        conn.execute(
            "UPDATE command SET expires_at = now() - interval '1 second', "
            "deadline_at = now() - interval '1 second' WHERE id = %s",
            (stale["id"],),
        )
    assert poll(server, site) == []
    assert state(test_database_url, stale["id"]) == "expired"
    again = server.http.post(
        f"{server.url}/api/v1/sites/{site.code}/commands/{cancelled['id']}/cancel"
    )
    assert again.status_code == 409


def test_edge_refusal_fails_the_command_and_raises_an_alarm(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    command = queue(server, site, kind="isolate_string", string=3).json()
    poll(server, site)
    result = report(server, site, command["id"], "refused", "edge interlock: last string")
    assert result["state"] == "failed"
    assert result["result"]["detail"] == "edge interlock: last string"
    with psycopg.connect(psycopg_dsn(test_database_url)) as conn:
        alarm = conn.execute(
            "SELECT message FROM alarm WHERE site_id = %s AND code = 'command_failed'",
            (site.site_id,),
        ).fetchone()
    assert alarm == ("isolate string failed: edge interlock: last string",)


def test_unverified_command_fails_after_the_timeout(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    command = queue(server, site, kind="derate", string=2, pct=50).json()
    poll(server, site)
    report(server, site, command["id"], "acked")
    with psycopg.connect(psycopg_dsn(test_database_url)) as conn:
        conn.execute(
            "UPDATE command SET deadline_at = now() - interval '1 second' WHERE id = %s",
            (command["id"],),
        )
    deadline = time.monotonic() + 5  # the backend checks every second
    while state(test_database_url, command["id"]) == "acked" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert state(test_database_url, command["id"]) == "failed"


@pytest.fixture
def waiting_poll(server: LiveServer, site: DeviceSite) -> Iterator[dict[str, Any]]:
    """A long poll running in the background; yields where its answer and timing will land."""
    out: dict[str, Any] = {}

    def run() -> None:
        out["commands"] = poll(server, site, wait=10)
        out["answered"] = time.monotonic()

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.5)  # the poll is waiting
    yield out
    thread.join(timeout=15)


def test_a_waiting_edge_gets_a_new_command_within_a_second(
    server: LiveServer, site: DeviceSite, waiting_poll: dict[str, Any]
) -> None:
    queued_at = time.monotonic()
    command = queue(server, site, kind="reset_alarms", string=1).json()
    deadline = time.monotonic() + 5
    while "answered" not in waiting_poll and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [c["id"] for c in waiting_poll["commands"]] == [command["id"]]
    assert waiting_poll["answered"] - queued_at < 1.0


def test_browser_form_previews_the_impact_then_sends(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    form = {
        "kind": "isolate_string",
        "string": "2",
        "reason": "maintenance",
        "note": "swap fan",
        "revert_after_s": "",
    }
    htmx = {"HX-Request": "true"}
    preview = server.http.post(
        f"{server.url}/sites/{site.code}/commands/preview", data=form, headers=htmx
    )
    assert preview.status_code == 200
    assert (
        "Impact: site power 100 kW → 67 kW, 2 of 3 strings online, capacity online 100 % → 67 %."
    ) in preview.text
    assert "<title>" not in preview.text  # an answer inside the page, not a navigation
    with psycopg.connect(psycopg_dsn(test_database_url)) as conn:
        queued_before = conn.execute(
            "SELECT count(*) FROM command WHERE site_id = %s", (site.site_id,)
        ).fetchone()
    assert queued_before == (0,)  # a preview sends nothing
    sent = server.http.post(
        f"{server.url}/sites/{site.code}/commands/send", data=form, headers=htmx
    )
    assert sent.status_code == 200
    assert "queued" in sent.text
    again = server.http.post(
        f"{server.url}/sites/{site.code}/commands/send", data=form, headers=htmx
    )
    assert again.status_code == 409
    assert "is still in flight" in again.text
    bad = server.http.post(
        f"{server.url}/sites/{site.code}/commands/preview",
        data={**form, "kind": "derate"},
        headers=htmx,
    )
    assert bad.status_code == 422
    assert "derate needs exactly one of pct or kw" in bad.text


def test_edge_readings_after_the_ack_verify_at_once(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    command = queue(server, site, kind="isolate_string", string=1).json()
    partial = queue(server, site, kind="derate", string=2, pct=40).json()
    poll(server, site)
    now = datetime.now(UTC).isoformat()
    opened = {
        "1.0": {
            "contactor_closed": 0,
            "current_a": 0.1,
            "charge_limit_a": 140,
            "discharge_limit_a": 140,
        }
    }
    answer = server.http.post(
        f"{server.url}/api/v1/edge/commands/{command['id']}/result",
        json={"outcome": "acked", "at": now, "evidence": opened},
        headers=edge_headers(site),
    ).json()
    assert answer["state"] == "verified"
    assert answer["result"]["verified_by"].startswith("contactor open, 0.1 A (BMS frames after")
    # Readings that do not show the effect (or are incomplete) leave it to the telemetry.
    unproven = server.http.post(
        f"{server.url}/api/v1/edge/commands/{partial['id']}/result",
        json={"outcome": "acked", "at": now, "evidence": {"2.0": {"charge_limit_a": 56}}},
        headers=edge_headers(site),
    )
    assert unproven.status_code == 200
    assert unproven.json()["state"] == "acked"
    bad = server.http.post(
        f"{server.url}/api/v1/edge/commands/{partial['id']}/result",
        json={"outcome": "acked", "at": now, "evidence": {"2.0": {"soc_pct": 5}}},
        headers=edge_headers(site),
    )
    assert bad.status_code == 422


def test_a_returned_string_is_verified_only_back_at_full_limits(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    # String 2 was derated to 30 % (42 of 140 A) and then isolated.
    now = datetime.now(UTC)
    derated = {"charge_limit_a": 42.0, "discharge_limit_a": 42.0}
    opened = [string_row(2, now, contactor_closed=False, current_a=0.0, **derated)]
    post_batch(server, site.token, batch(site.code, 2, strings=opened))
    command = queue(server, site, kind="return_string", string=2).json()
    poll(server, site)
    closed = {"contactor_closed": 1, "current_a": -12.0, **derated}
    answer = server.http.post(
        f"{server.url}/api/v1/edge/commands/{command['id']}/result",
        json={"outcome": "acked", "at": datetime.now(UTC).isoformat(), "evidence": {"2.0": closed}},
        headers=edge_headers(site),
    ).json()
    assert answer["state"] == "acked"  # the contactor closed, but the derate is still there
    still = [string_row(2, datetime.now(UTC), current_a=-12.0, **derated)]
    assert post_batch(server, site.token, batch(site.code, 3, strings=still)).status_code == 200
    assert state(test_database_url, command["id"]) == "acked"
    full = [string_row(2, datetime.now(UTC), current_a=-40.0, charge_limit_a=139.8)]
    assert post_batch(server, site.token, batch(site.code, 4, strings=full)).status_code == 200
    assert state(test_database_url, command["id"]) == "verified"
    listed = server.http.get(f"{server.url}/api/v1/sites/{site.code}/commands").json()["items"]
    mine = next(c for c in listed if c["id"] == command["id"])
    assert mine["result"]["verified_by"] == (
        "contactor closed, limits at rating (139.8 A charge, 140 A discharge)"
    )


def test_text_holding_nul_is_refused_by_field_not_stored_or_failed(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    # PostgreSQL's text cannot hold NUL: before, such a report was a 500 (schemathesis found it).
    refused = queue(server, site, kind="reset_alarms", string=1, note="a\x00b")
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["field"] == "body.note"
    command = queue(server, site, kind="reset_alarms", string=1).json()
    poll(server, site)
    answer = server.http.post(
        f"{server.url}/api/v1/edge/commands/{command['id']}/result",
        json={"outcome": "failed", "detail": "bus\x00error", "at": datetime.now(UTC).isoformat()},
        headers=edge_headers(site),
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["details"][0]["field"] == "body.detail"
    assert state(test_database_url, command["id"]) == "sent"  # untouched: the edge may resend
    assert report(server, site, command["id"], "failed", "bus error\nsecond line")["state"] == (
        "failed"
    )
