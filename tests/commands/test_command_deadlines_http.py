"""Commands that always end, over real HTTP: every unfinished state has a deadline on the
backend's clock, edge times are bounded, a late report is kept as late, one command goes to
one device, and an operator can clear a stuck command with a reason."""

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.sites.service import create_edge_device
from tests.commands.test_commands_http import poll, queue, state
from tests.db import psycopg_dsn
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer, live_server
from tests.wire import batch, full_site_rows, post_batch

SWEEP_S = 5.0  # the backend sweeps every second; a loaded machine may take a few


@pytest.fixture
async def site(engine: AsyncEngine, server: LiveServer) -> DeviceSite:
    """A 3-string site with fresh telemetry: every string closed and carrying 40 A."""
    site = await committed_device_site(engine, racks=3)
    body = batch(site.code, 1, **full_site_rows(datetime.now(UTC), strings=3))
    assert post_batch(server, site.token, body).status_code == 200
    return site


def sql(url: str, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run one statement on the test database; its rows, if any."""
    with psycopg.connect(psycopg_dsn(url)) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def run_out(url: str, command_id: int) -> None:
    """Move a command's deadline into the past: as if its time had passed on the backend."""
    sql(
        url,
        "UPDATE command SET deadline_at = now() - interval '1 second' WHERE id = %s",
        command_id,
    )


def settled(url: str, command_id: int, leaving: str) -> str:
    """The command's state once it has left `leaving` (or after SWEEP_S)."""
    deadline = time.monotonic() + SWEEP_S
    while state(url, command_id) == leaving and time.monotonic() < deadline:
        time.sleep(0.1)
    return state(url, command_id)


def send_report(
    server: LiveServer, token: str, command_id: int, outcome: str = "acked", at: str | None = None
) -> httpx.Response:
    """An edge's report, with the edge's own time (now by default)."""
    body = {"outcome": outcome, "detail": "", "at": at or datetime.now(UTC).isoformat()}
    return server.http.post(
        f"{server.url}/api/v1/edge/commands/{command_id}/result",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )


def clear(server: LiveServer, site: DeviceSite, command_id: int, reason: str) -> httpx.Response:
    """An operator clearing a command over the API."""
    return server.http.post(
        f"{server.url}/api/v1/sites/{site.code}/commands/{command_id}/clear",
        json={"reason": reason},
    )


def test_expiry_travels_as_the_seconds_left(server: LiveServer, site: DeviceSite) -> None:
    command = queue(server, site, kind="reset_alarms", string=1, expires_in_s=120).json()
    delivered = poll(server, site)
    assert [c["id"] for c in delivered] == [command["id"]]
    assert "expires_at" not in delivered[0]  # no wall-clock time for the edge to misjudge
    assert 115 < delivered[0]["expires_in_s"] <= 120
    listed = server.http.get(f"{server.url}/api/v1/sites/{site.code}/commands").json()["items"]
    mine = next(c for c in listed if c["id"] == command["id"])
    # Sent: the edge must report by the expiry plus the grace, on the backend's clock.
    deadline = datetime.fromisoformat(mine["deadline_at"])
    assert deadline - datetime.fromisoformat(mine["expires_at"]) == timedelta(seconds=30)


def test_a_sent_command_never_reported_ends_unknown_with_an_alarm(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    command = queue(server, site, kind="derate", string=2, pct=50).json()
    poll(server, site)  # the edge takes it, then is never heard of again
    blocked = queue(server, site, kind="isolate_string", string=2)
    assert blocked.status_code == 409
    assert "clear it with a reason if it is stuck" in blocked.json()["error"]["message"]
    run_out(test_database_url, command["id"])
    assert settled(test_database_url, command["id"], "sent") == "unknown"
    alarms = sql(
        test_database_url,
        "SELECT a.message, a.priority, a.occurrences FROM alarm a "
        "JOIN rack r ON r.id = a.rack_id WHERE a.site_id = %s AND r.index = 2 "
        "AND a.code = 'command_outcome_unknown'",
        site.site_id,
    )
    assert len(alarms) == 1
    assert alarms[0][0].startswith("derate outcome unknown: the edge took it but did not report")
    assert alarms[0][1:] == (2, 1)
    # The target is free again: the next command on it is accepted.
    assert queue(server, site, kind="isolate_string", string=2).status_code == 201


def test_a_late_report_is_refused_and_kept_as_late(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    command = queue(server, site, kind="reset_alarms", string=3).json()
    poll(server, site)
    run_out(test_database_url, command["id"])  # its time ran out before the edge answered
    late = send_report(server, site.token, command["id"], "acked")
    assert late.status_code == 409
    assert "came after the command's deadline" in late.json()["error"]["message"]
    assert late.json()["error"]["details"] == [{"state": "unknown"}]
    listed = server.http.get(f"{server.url}/api/v1/sites/{site.code}/commands").json()["items"]
    mine = next(c for c in listed if c["id"] == command["id"])
    assert (mine["state"], mine["acked_at"]) == ("unknown", None)
    assert [r["outcome"] for r in mine["result"]["late_reports"]] == ["acked"]
    audit = sql(
        test_database_url,
        "SELECT actor, action FROM audit_log WHERE target = %s ORDER BY id",
        f"command {command['id']}",
    )
    assert audit[-1] == (
        f"edge device #{device_id(test_database_url, site)}",
        "command.late_report",
    )


def device_id(url: str, site: DeviceSite) -> int:
    """The id of the site's test edge device."""
    rows = sql(
        url, "SELECT id FROM edge_device WHERE site_id = %s AND name = 'edge-test'", site.site_id
    )
    return int(rows[0][0])


def test_an_ack_time_from_the_future_is_clamped_and_recorded(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    command = queue(server, site, kind="derate", string=1, pct=60).json()
    poll(server, site)
    before = datetime.now(UTC)
    answer = send_report(server, site.token, command["id"], "acked", "2099-01-01T00:00:00+00:00")
    after = datetime.now(UTC)
    assert answer.status_code == 200, answer.text
    acked = answer.json()
    assert acked["state"] == "acked"
    # Kept as received, the edge's own value beside it; the verification deadline runs from the
    # backend's receipt, so the command cannot wait for 2099.
    assert before <= datetime.fromisoformat(acked["acked_at"]) <= after
    assert acked["result"]["edge_at"].startswith("2099-01-01")
    assert "outside the time the command was sent" in acked["result"]["clock"]
    deadline = datetime.fromisoformat(acked["deadline_at"])
    assert before + timedelta(seconds=15) <= deadline <= after + timedelta(seconds=15)
    run_out(test_database_url, command["id"])
    assert settled(test_database_url, command["id"], "acked") == "failed"


@pytest.fixture
async def spare(engine: AsyncEngine, site: DeviceSite) -> str:
    """The token of a second edge device registered for the same site."""
    async with AsyncSession(engine) as session, session.begin():
        return await create_edge_device(session, site_code=site.code, name="edge-spare")


def long_poll(server: LiveServer, token: str, out: dict[str, list[int]]) -> threading.Thread:
    """A device's long poll in the background; the ids it got land in `out[token]`."""

    def run() -> None:
        answer = httpx.get(
            f"{server.url}/api/v1/edge/commands",
            params={"wait": 5},
            headers={"Authorization": f"Bearer {token}"},
            timeout=15,
        )
        out[token] = [c["id"] for c in answer.json()]

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_one_command_goes_to_exactly_one_device(
    server: LiveServer, site: DeviceSite, spare: str
) -> None:
    got: dict[str, list[int]] = {}
    threads = [long_poll(server, token, got) for token in (site.token, spare)]
    time.sleep(0.5)  # both are waiting
    command = queue(server, site, kind="reset_alarms", string=1).json()
    for thread in threads:
        thread.join(timeout=15)
    assert sorted(got.values(), key=len) == [[], [command["id"]]]
    taker, other = sorted(got, key=lambda token: got[token] != [command["id"]])
    # Only the device that took it gets it again, and only it may report it.
    again = [
        httpx.get(
            f"{server.url}/api/v1/edge/commands", headers={"Authorization": f"Bearer {token}"}
        ).json()
        for token in (taker, other)
    ]
    assert [[c["id"] for c in answer] for answer in again] == [[command["id"]], []]
    refused = send_report(server, other, command["id"])
    assert refused.status_code == 409
    assert "never given that command" in refused.json()["error"]["message"]
    assert send_report(server, taker, command["id"]).json()["state"] == "acked"


def test_an_operator_clears_a_stuck_command_with_a_reason(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    command = queue(server, site, kind="derate", string=3, pct=40).json()
    poll(server, site)
    cancel = server.http.post(
        f"{server.url}/api/v1/sites/{site.code}/commands/{command['id']}/cancel"
    )
    assert cancel.status_code == 409
    assert cancel.json()["error"]["details"][0]["remedy"] == "clear it with a reason instead"
    for bad in ("x", "stuck\x00edge"):  # too short; a NUL byte PostgreSQL text cannot hold
        refused = clear(server, site, command["id"], bad)
        assert refused.status_code == 422
        assert "reason" in refused.text
    viewer = server.client("viewer").post(
        f"/api/v1/sites/{site.code}/commands/{command['id']}/clear", json={"reason": "stuck edge"}
    )
    assert viewer.status_code == 403
    cleared = clear(server, site, command["id"], "edge replaced, command void")
    assert cleared.status_code == 200, cleared.text
    view = cleared.json()
    assert (view["state"], view["deadline_at"]) == ("cleared", None)
    assert view["result"]["cleared"]["reason"] == "edge replaced, command void"
    assert view["result"]["cleared"]["from_state"] == "sent"
    audit = sql(
        test_database_url,
        "SELECT actor, action, details ->> 'reason' FROM audit_log WHERE target = %s ORDER BY id",
        f"command {command['id']}",
    )
    assert audit[-1][1:] == ("command.clear", "edge replaced, command void")
    assert audit[-1][0] == view["result"]["cleared"]["by"]
    again = clear(server, site, command["id"], "once more")
    assert again.status_code == 409
    assert again.json()["error"]["message"] == (
        f"command #{command['id']} is already cleared: nothing to clear"
    )
    assert clear(server, site, 999_999_999, "no such command").status_code == 404
    # The target is free, and what the edge says afterwards is kept as late, not applied.
    assert queue(server, site, kind="derate", string=3, pct=50).status_code == 201
    late = send_report(server, site.token, command["id"], "acked")
    assert late.status_code == 409
    assert state(test_database_url, command["id"]) == "cleared"


def test_the_command_page_clears_by_form_and_says_so_plainly(
    server: LiveServer, site: DeviceSite
) -> None:
    command = queue(server, site, kind="reset_alarms", string=2).json()
    poll(server, site)
    page_url = f"{server.url}/sites/{site.code}/commands/{command['id']}"
    page = server.http.get(page_url)
    assert 'id="clear"' in page.text
    assert "Outcome unknown unless reported in" in page.text
    blank = server.http.post(f"{page_url}/clear", data={"reason": ""}, headers=HTMX)
    assert blank.status_code == 422
    assert "reason" in blank.text
    done = server.http.post(
        f"{page_url}/clear", data={"reason": "edge offline for good"}, headers=HTMX
    )
    assert done.status_code == 204
    status = server.http.get(page_url, headers={**HTMX, "HX-Target": f"command-{command['id']}"})
    assert "<title>" not in status.text  # the live part alone
    assert '<span class="command-state">cleared by an operator</span>' in status.text
    assert "“edge offline for good”" in status.text
    after = server.http.get(page_url)
    assert 'id="clear"' not in after.text  # nothing left to clear
    plain = server.http.post(f"{page_url}/clear", data={"reason": "again"})
    assert plain.status_code == 409


HTMX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
def two_processes(test_database_url: str) -> Iterator[LiveServer]:
    """A backend with two worker processes, each running the deadline sweep."""
    # Two processes start more slowly than one.
    env = {"RIDETHROUGH_DATABASE_URL": test_database_url}
    with live_server(env, workers=2, startup_timeout_s=180) as running:
        yield running


async def test_two_app_processes_end_each_command_once(
    engine: AsyncEngine, two_processes: LiveServer, test_database_url: str
) -> None:
    server = two_processes
    site = await committed_device_site(engine, racks=3)
    post_batch(
        server, site.token, batch(site.code, 1, **full_site_rows(datetime.now(UTC), strings=3))
    )
    ids = [queue(server, site, kind="reset_alarms", string=n).json()["id"] for n in (1, 2, 3)]
    assert [c["id"] for c in poll(server, site)] == ids
    sql(test_database_url, "UPDATE command SET deadline_at = now() WHERE id = ANY(%s)", ids)
    for command_id in ids:
        assert settled(test_database_url, command_id, "sent") == "unknown"
    occurrences = sql(
        test_database_url,
        "SELECT occurrences FROM alarm WHERE site_id = %s AND code = 'command_outcome_unknown'",
        site.site_id,
    )
    assert occurrences == [(1,), (1,), (1,)]  # one alarm per command: no process raised twice
