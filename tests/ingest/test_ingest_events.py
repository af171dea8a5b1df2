"""Edge events become alarms (ISA-18.2 states) and isolations (onset and feedback times)."""

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn
from tests.db import query_rows as fetch
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.wire import T0, batch, event, module_row, string_row
from tests.wire import post_batch as post

pytestmark = pytest.mark.usefixtures("server")


@pytest.fixture
async def site(engine: AsyncEngine) -> DeviceSite:
    """A committed site with an edge device."""
    return await committed_device_site(engine)


def test_fault_alarm_then_isolation_then_return(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    hot_cells = [3.3] * 16
    hot_cells[4] = 3.71
    raised = batch(
        site.code,
        1,
        modules=[module_row(1, 2, T0, cell_v=hot_cells)],
        events=[event("fault_raised", 0.4, 1, 2, "cell_ov_alarm", cell_v=hot_cells)],
    )
    opened = batch(
        site.code,
        2,
        strings=[
            string_row(
                1,
                T0 + timedelta(seconds=1),
                contactor_closed=False,
                disable_reason=1,
                current_a=0.0,
            )
        ],
        events=[event("contactor_opened", 1.3, 1)],
    )
    cleared = batch(
        site.code,
        3,
        events=[
            event("fault_cleared", 30, 1, 2, "cell_ov_alarm"),
            event("contactor_closed", 60, 1),
        ],
    )
    for body in (raised, opened, cleared):
        response = post(server, site.token, body)
        assert response.status_code == 200, response.text
        assert response.json()["rejections"] == []

    dsn = psycopg_dsn(test_database_url)
    alarms = fetch(
        dsn,
        "SELECT code, priority, state, value, threshold, cell_index, raised_at, "
        "cleared_at, message FROM alarm WHERE site_id = %s",
        site.site_id,
    )
    assert len(alarms) == 1
    code, priority, state, value, threshold, cell, raised_at, cleared_at, message = alarms[0]
    assert (code, priority, state, cell) == ("cell_ov_alarm", 2, "rtn_unacked", 4)
    assert value == pytest.approx(3.71)
    assert threshold == pytest.approx(3.65)
    assert raised_at == T0 + timedelta(seconds=0.4)
    assert cleared_at == T0 + timedelta(seconds=30)
    assert message == "Cell over-voltage alarm at string 1 module 2 cell 5"

    isolations = fetch(
        dsn,
        "SELECT reason, isolated_by, fault_code, onset_at, isolated_at, "
        "returned_at FROM isolation WHERE site_id = %s",
        site.site_id,
    )
    assert isolations == [
        (
            "fault",
            "bms",
            "cell_ov_alarm",
            T0 + timedelta(seconds=0.4),
            T0 + timedelta(seconds=1.3),
            T0 + timedelta(seconds=60),
        )
    ]


def test_chattering_alarm_counts_occurrences(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    events = [
        event("fault_raised", 1, 1, 1, "cell_ov_warning"),
        event("fault_cleared", 2, 1, 1, "cell_ov_warning"),
        event("fault_raised", 3, 1, 1, "cell_ov_warning"),
    ]
    assert post(server, site.token, batch(site.code, 1, events=events)).status_code == 200
    rows = fetch(
        psycopg_dsn(test_database_url),
        "SELECT state, occurrences FROM alarm WHERE site_id = %s",
        site.site_id,
    )
    assert rows == [("unacked", 2)]


def test_comms_loss_raises_and_restores(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    events = [event("comms_lost", 5, 2, 3), event("comms_restored", 9, 2, 3)]
    assert post(server, site.token, batch(site.code, 1, events=events)).status_code == 200
    rows = fetch(
        psycopg_dsn(test_database_url),
        "SELECT code, state, raised_at FROM alarm WHERE site_id = %s",
        site.site_id,
    )
    assert rows == [("module_comms_lost", "rtn_unacked", T0 + timedelta(seconds=5))]


def test_module_bypass_opens_and_closes_a_module_isolation(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    events = [
        event("fault_raised", 0.2, 2, 1, "cell_uv_warning"),  # another module: not the onset
        event("fault_raised", 0.5, 2, 3, "over_temp_alarm"),
        event("module_bypassed", 1.5, 2, 3),
        event("module_returned", 90, 2, 3),
    ]
    response = post(server, site.token, batch(site.code, 1, events=events))
    assert response.status_code == 200, response.text
    assert response.json()["rejections"] == []

    rows = fetch(
        psycopg_dsn(test_database_url),
        "SELECT r.index, m.position, i.reason, i.isolated_by, i.fault_code, i.onset_at, "
        "i.isolated_at, i.returned_at FROM isolation i JOIN rack r ON r.id = i.rack_id "
        "JOIN module m ON m.id = i.module_id WHERE i.site_id = %s",
        site.site_id,
    )
    assert rows == [
        (
            2,
            3,
            "fault",
            "bms",
            "over_temp_alarm",
            T0 + timedelta(seconds=0.5),
            T0 + timedelta(seconds=1.5),
            T0 + timedelta(seconds=90),
        ),
    ]


def test_alarm_names_the_cell_and_value_the_fault_rose_with(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    # The batch's sample is the period before the fault (its own period had not closed yet):
    # cell 8 led at 3.24 V. The fault rose when cell 7 read 3.601 V.
    before = [3.22] * 16
    before[7] = 3.24
    tripped = list(before)
    tripped[6] = 3.601
    body = batch(
        site.code,
        1,
        modules=[module_row(2, 3, T0, cell_v=before)],
        events=[
            event("fault_raised", 1.2, 2, 3, "cell_ov_warning", cell_v=tripped),
            event("fault_raised", 1.2, 2, 1, "cell_uv_warning"),  # an older edge: no readings
        ],
    )
    response = post(server, site.token, body)
    assert response.status_code == 200, response.text
    assert response.json()["rejections"] == []
    rows = fetch(
        psycopg_dsn(test_database_url),
        "SELECT code, cell_index, value, threshold, message FROM alarm WHERE site_id = %s "
        "ORDER BY code",
        site.site_id,
    )
    assert rows == [
        (
            "cell_ov_warning",
            6,
            pytest.approx(3.601),
            pytest.approx(3.5),
            "Cell over-voltage warning at string 2 module 3 cell 7",
        ),
        (
            "cell_uv_warning",
            None,
            None,
            pytest.approx(2.9),
            "Cell under-voltage warning at string 2 module 1",
        ),
    ]


def test_readings_that_do_not_fit_the_module_are_refused(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    events = [
        event("fault_raised", 1, 1, 1, "cell_ov_warning", cell_v=[3.6] * 15),
        event("fault_raised", 1, 1, 2, "over_temp_warning", cell_v=[3.3] * 16, temp_c=[50.0] * 5),
        event("fault_raised", 1, 1, 3, "cell_ov_warning", cell_v=[3.6] * 16, temp_c=[25.0] * 4),
    ]
    response = post(server, site.token, batch(site.code, 1, events=events))
    assert response.status_code == 200, response.text
    refused = [(r["row"], r["field"], r["reason"]) for r in response.json()["rejections"]]
    assert refused == [
        (0, "cell_v", "15 cell voltages for a 16-cell module"),
        (1, "temp_c", "5 temperatures for a module with 4 sensors"),
    ]
    stored = fetch(
        psycopg_dsn(test_database_url), "SELECT code FROM alarm WHERE site_id = %s", site.site_id
    )
    assert stored == [("cell_ov_warning",)]
