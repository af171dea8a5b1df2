"""`make run` as a newcomer sees it: a mostly normal fleet, a month of history, one incident.

The whole of scripts/run.sh runs against a database of its own (a 3-day history instead of 30,
to keep the suite quick), and the test reads what it made through the API and the pages.
"""

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import PROJECT_ROOT
from app.notifications.sink import caught_mail
from tests.db import drop_database, psycopg_dsn, query_rows, recreate_database
from tests.server import free_port
from tests.signin import ensure_user, sign_in

DATABASE = "ridethrough_make_run"
HISTORY_DAYS = 3
STARTUP_TIMEOUT_S = 900.0  # a loaded two-core machine starts slowly; an idle one in ~2 min
# The scripted incident: salt-flats string 4 module 9 overheats 15 s after start (site file).
INCIDENT_SITE, INCIDENT_STRING = "salt-flats", 4
INCIDENT_WAIT_S = 120.0
# The edge policy's target: 500 ms from the fault frame to its isolate frame (issue #6,
# bench/policy.py). The stored time to isolate ends later, at the contactor's feedback in the
# simulated BMS's next status frames (every 0.5 s), on a machine other tests keep busy.
POLICY_TARGET_S = 0.5
FEEDBACK_WITHIN_S = 2.0
pytestmark = pytest.mark.timeout(STARTUP_TIMEOUT_S + 300)


@dataclass
class Running:
    """`make run` in the background: its base URL, what it printed, an operator's client."""

    url: str
    output: str
    http: httpx.Client
    started_at: float  # when the script was started (the live incident comes after)
    data: Path  # the script's data folder (spools, logs, the SMTP sink's mail)
    database_url: str


def _read_until(process: subprocess.Popen[str], marker: str, timeout_s: float) -> str:
    """What the process printed until a line containing `marker` (fails on exit or timeout)."""
    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:  # to the end: the pipe never fills up
            lines.append(line)
            if marker in line:
                seen.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout_s
    while not seen.wait(1.0):
        if time.monotonic() > deadline or process.poll() is not None:
            pytest.fail(f"`make run` did not print {marker!r}; it printed:\n{''.join(lines)}")
    return "".join(lines)


def _stop(process: subprocess.Popen[str]) -> None:
    """Ctrl-C, as a user stops it; the script then stops what it started."""
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """scripts/run.sh on a fresh database and data folder, up and streaming."""
    url = recreate_database(DATABASE)
    port = free_port()
    data = tmp_path_factory.mktemp("run-data")
    env = {
        **os.environ,
        "RIDETHROUGH_DATABASE_URL": url,
        "RIDETHROUGH_PORT": str(port),
        "RIDETHROUGH_RUN_DATA": str(data),
        "RIDETHROUGH_SMTP_PORT": str(free_port()),
        "RIDETHROUGH_DEMO_HISTORY_DAYS": str(HISTORY_DAYS),
    }
    started_at = time.time()
    process = subprocess.Popen(
        ["bash", "scripts/run.sh"],
        cwd=PROJECT_ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output = _read_until(process, "Ridethrough is running", STARTUP_TIMEOUT_S)
        base = f"http://127.0.0.1:{port}"
        cookies, csrf = sign_in(base, ensure_user(psycopg_dsn(url), "operator"))
        with httpx.Client(
            base_url=base, cookies=cookies, headers={"X-CSRF-Token": csrf}, timeout=30
        ) as http:
            yield Running(base, output, http, started_at, data, url)
    finally:
        _stop(process)
        drop_database(DATABASE)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _policy_isolation(running: Running) -> dict[str, Any] | None:
    """The live scripted incident's isolation by the edge policy, once there is one."""
    url = f"/api/v1/sites/{INCIDENT_SITE}/isolations"
    for row in running.http.get(url).raise_for_status().json()["items"]:
        live = _when(row["onset_at"]).timestamp() > running.started_at  # not the history's
        if row["string"] == INCIDENT_STRING and row["isolated_by"] == "edge_policy" and live:
            return dict(row)
    return None


def _wait_for(probe: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(2.0)
    pytest.fail(f"no {what} within {timeout_s:.0f} s")


def test_start_up_says_what_it_does(make_run: Running) -> None:
    assert f"backfilling {HISTORY_DAYS} days of history" in make_run.output
    assert "history in place after" in make_run.output
    assert "Scripted incident:" in make_run.output


def test_the_fleet_is_mostly_normal(make_run: Running) -> None:
    sites = make_run.http.get("/api/v1/sites").raise_for_status().json()["items"]
    calm = [s for s in sites if s["code"] != INCIDENT_SITE]
    assert len(sites) == 3
    assert [(s["code"], s["state"]) for s in calm] == [(s["code"], "normal") for s in calm]
    # The history's alarms are over and acknowledged: nothing stands on the calm sites.
    assert [sum(s["alarms_by_priority"].values()) for s in calm] == [0, 0]
    assert all(s["soc_pct"] is not None and 20 <= s["soc_pct"] <= 92 for s in sites)


def test_the_scripted_incident_is_isolated_by_the_edge_policy_and_can_be_returned(
    make_run: Running,
) -> None:
    http = make_run.http
    isolation = _wait_for(lambda: _policy_isolation(make_run), INCIDENT_WAIT_S, "isolation")
    assert isolation["fault_code"] == "over_temp_alarm"
    assert 0 <= isolation["time_to_isolate_s"] <= FEEDBACK_WITHIN_S
    listed = http.get(f"/api/v1/sites/{INCIDENT_SITE}/commands").raise_for_status().json()
    onset = _when(isolation["onset_at"])
    action = next(
        c
        for c in listed["items"]
        if c["kind"] == "isolate_string"
        and c["origin"] == "edge_policy"
        and c["fault_onset_at"]
        and _when(c["fault_onset_at"]) == onset
    )
    reaction = _when(action["sent_at"]) - onset
    assert 0 <= reaction.total_seconds() <= POLICY_TARGET_S
    # The cooling comes back a simulated hour (a minute) after it failed; then the module cools
    # with its thermal time constant (15 s here), and the operator returns the string.
    repaired_at = _when(isolation["onset_at"]).timestamp() + 60 + 20
    time.sleep(max(0.0, repaired_at - time.time()))
    sent = http.post(
        f"/api/v1/sites/{INCIDENT_SITE}/commands",
        json={
            "kind": "return_string",
            "string": INCIDENT_STRING,
            "reason": "maintenance",
            "note": "cooling repaired",
        },
    )
    assert sent.status_code in (200, 201, 202), sent.text
    command_id = sent.json()["id"]

    def verified() -> bool:
        listed = http.get(f"/api/v1/sites/{INCIDENT_SITE}/commands").raise_for_status().json()
        state = next(c["state"] for c in listed["items"] if c["id"] == command_id)
        assert state not in ("failed", "expired", "cancelled")
        return bool(state == "verified")

    _wait_for(verified, 60, "verified return")


def test_the_kpi_page_for_30_days_has_values(make_run: Running) -> None:
    kpis = make_run.http.get("/api/v1/kpis", params={"window": "30d"}).raise_for_status().json()
    assert kpis["spread_under_load"]["p50_mv"] is not None
    assert kpis["mtta"]["count"] > 0  # the history's alarms, acknowledged by the demo operator
    assert kpis["time_to_isolate"]["edge_policy"]["count"] > 0
    assert kpis["mttr"]["count"] > 0
    assert kpis["availability"]["time_based"] is not None
    assert 0.9 < kpis["availability"]["capacity_weighted"] <= 1.0
    assert kpis["round_trip_efficiency"] is not None
    assert 0.8 < kpis["round_trip_efficiency"] <= 1.0
    assert kpis["fault_pareto"]
    page = make_run.http.get("/kpis", params={"window": "30d"})
    assert page.status_code == 200
    assert page.text.count('class="tl-row"') >= kpis["time_to_isolate"]["all"]["count"]
    assert "No isolations in this window" not in page.text
    for row in kpis["fault_pareto"]:
        assert f"<code>{row['code']}</code>" in page.text


def test_the_incident_is_mailed_to_the_operator_and_caught_by_the_local_sink(
    make_run: Running,
) -> None:
    assert "Notifications:" in make_run.output

    def incident_mail() -> list[str]:
        return [
            m.subject
            for m in caught_mail(make_run.data / "mail")
            if "Module over-temperature alarm raised" in m.subject
        ]

    subjects = _wait_for(incident_mail, INCIDENT_WAIT_S, "incident e-mail in the sink")
    # The backfilled history's alarms are shown on the pages but are not news: nothing raised
    # more than the notification age (an hour) before the start was mailed.
    history_mails = query_rows(
        psycopg_dsn(make_run.database_url),
        "SELECT count(*) FROM notification_outbox o JOIN alarm_notice n ON n.id = o.notice_id "
        "JOIN alarm a ON a.id = n.alarm_id "
        "WHERE a.raised_at < to_timestamp(%s) - interval '1 hour'",
        make_run.started_at,
    )
    assert history_mails == [(0,)]
    cookies, _ = sign_in(make_run.url, ensure_user(psycopg_dsn(make_run.database_url), "admin"))
    with httpx.Client(base_url=make_run.url, cookies=cookies, timeout=30) as admin:
        page = admin.get("/admin/notifications").raise_for_status().text
    assert "Caught by the local SMTP sink" in page
    assert subjects[0].split(":")[0] in page
