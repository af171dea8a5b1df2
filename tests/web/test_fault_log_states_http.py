"""The fault log's state line and its "still open" filter, over real HTTP on a live backend."""

import re
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.wire import T0, batch, event, post_batch

HTMX = {"HX-Request": "true"}


@pytest.fixture
async def site(engine: AsyncEngine, server: LiveServer) -> DeviceSite:
    """A site with two warnings on string 1: module 1's has cleared, module 2's is active."""
    site = await committed_device_site(engine)
    events = [
        event("fault_raised", 1, 1, 1, "cell_ov_warning"),
        event("fault_cleared", 20, 1, 1, "cell_ov_warning"),
        event("fault_raised", 2, 1, 2, "cell_uv_warning"),
    ]
    response = post_batch(server, site.token, batch(site.code, 1, events=events))
    assert response.status_code == 200, response.text
    return site


def alarm_ids(url: str, site: DeviceSite) -> dict[str, int]:
    """The site's alarms by code."""
    with psycopg.connect(psycopg_dsn(url)) as conn:
        rows = conn.execute("SELECT code, id FROM alarm WHERE site_id = %s", (site.site_id,))
        return dict(rows.fetchall())


def state_line(page: str, alarm: int) -> str:
    """The text of one fault's state, as the log shows it."""
    item = page[page.index(f'data-fault="{alarm}"') :]
    found = re.search(r'<span class="alarm-state">(.*?)</span>', item, re.S)
    assert found is not None
    return " ".join(found.group(1).split())


def clock(ts: datetime) -> str:
    """A time as the log prints it: the date too when it is not the day T0 raised the alarm."""
    ts = ts.astimezone(UTC)
    return f"{ts:%H:%M:%S}" if ts.date() == T0.date() else f"{ts:%Y-%m-%d %H:%M:%S}"


def listed(server: LiveServer, site: DeviceSite, status: str) -> set[int]:
    """The ids the fault log lists with a status filter."""
    page = server.http.get(
        f"{server.url}/sites/{site.code}/faults", params={"status": status, "window": "all"}
    )
    assert page.status_code == 200
    return {int(i) for i in re.findall(r'data-fault="(\d+)"', page.text)}


def test_shelved_alarms_say_until_when_and_when_they_cleared(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    ids = alarm_ids(test_database_url, site)
    for alarm in ids.values():
        shelved = server.http.post(
            f"{server.url}/alarms/{alarm}/shelve",
            data={"minutes": "60", "reason": "known sensor fault"},
            headers=HTMX,
        )
        assert shelved.status_code == 204
    with psycopg.connect(psycopg_dsn(test_database_url)) as conn:
        until = conn.execute(
            "SELECT shelved_until FROM alarm WHERE id = %s", (ids["cell_ov_warning"],)
        ).fetchone()
    assert until is not None
    page = server.http.get(f"{server.url}/sites/{site.code}/faults", params={"window": "all"})
    cleared_at = T0 + timedelta(seconds=20)
    assert state_line(page.text, ids["cell_ov_warning"]) == (
        f"Shelved until {clock(until[0])}, cleared at {clock(cleared_at)}"
    )
    assert state_line(page.text, ids["cell_uv_warning"]).endswith(", still active")


def test_cleared_alarms_say_when_they_cleared(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    ids = alarm_ids(test_database_url, site)
    page = server.http.get(f"{server.url}/sites/{site.code}/faults", params={"window": "all"})
    assert state_line(page.text, ids["cell_ov_warning"]) == (
        f"Cleared at {T0 + timedelta(seconds=20):%H:%M:%S}, unacknowledged"
    )
    assert state_line(page.text, ids["cell_uv_warning"]) == "Unacknowledged"


def test_still_open_means_the_condition_is_still_active(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    ids = alarm_ids(test_database_url, site)
    for alarm in ids.values():  # shelving changes nothing about whether the condition is there
        server.http.post(
            f"{server.url}/alarms/{alarm}/shelve",
            data={"minutes": "60", "reason": "known sensor fault"},
            headers=HTMX,
        )
    assert listed(server, site, "open") == {ids["cell_uv_warning"]}
    assert listed(server, site, "cleared") == {ids["cell_ov_warning"]}
    assert listed(server, site, "all") == set(ids.values())
    csv = server.http.get(
        f"{server.url}/sites/{site.code}/faults.csv", params={"status": "open", "window": "all"}
    )
    assert [line.split(",")[5] for line in csv.text.splitlines()[1:]] == ["cell_uv_warning"]
