"""Events in any order: alarm, isolation and contactor state are a function of the set of
events, not of the order batches arrive in (the edge sends live batches before its backlog),
nor of batches sent twice. Every permutation of a small history, over real HTTP."""

import asyncio
import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import create_async_engine

from tests.db import psycopg_dsn, query_rows
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.wire import T0, batch, event, post_batch, string_row

pytestmark = pytest.mark.usefixtures("server")

SEQ = itertools.count(1000)
HOT = [3.3] * 16
HOT[6] = 3.55  # cell 7 over the 3.5 V warning level
HOTTER = [3.3] * 16
HOTTER[10] = 3.58  # the re-raise: cell 11


def at(seconds: float) -> datetime:
    """T0 + seconds, as stored."""
    return T0 + timedelta(seconds=seconds)


def opened(seconds: float, string: int, reason: int) -> dict[str, Any]:
    """A string's contactors seen opening, with the BMS's reason (StrDisRsn)."""
    return event("contactor_opened", seconds, string) | {"disable_reason": reason}


def contactor(seconds: float, string: int, closed: bool) -> dict[str, Any]:
    """A string sample showing its contactors."""
    return string_row(string, at(seconds), contactor_closed=closed)


# One history in five batches. A warning on string 1 module 2 rises (t=1), clears (t=5) and
# rises again (t=8); a warning on string 2 module 1 rises and clears (t=2, t=3); module 3 of
# string 1 loses comms (2.5 to 3.5). String 1's contactors open on the fault (1.5), close (6)
# and open for maintenance (9); module 3 of string 2 is bypassed from 4 to 7. Some events come
# twice, in different batches.
HISTORY: list[dict[str, list[dict[str, Any]]]] = [
    {
        "events": [
            event("fault_raised", 1, 1, 2, "cell_ov_warning", cell_v=HOT),
            opened(1.5, 1, reason=1),
        ],
        "strings": [contactor(1, 1, closed=True)],
    },
    {
        "events": [
            event("fault_cleared", 5, 1, 2, "cell_ov_warning"),
            event("contactor_closed", 6, 1),
            event("fault_raised", 2, 2, 1, "cell_uv_warning"),
            event("module_bypassed", 4, 2, 3),
        ],
        "strings": [contactor(2, 1, closed=False)],
    },
    {
        "events": [
            event("fault_raised", 8, 1, 2, "cell_ov_warning", cell_v=HOTTER),
            event("fault_cleared", 3, 2, 1, "cell_uv_warning"),
            opened(9, 1, reason=2),
        ],
        "strings": [contactor(10, 1, closed=False), contactor(10, 2, closed=True)],
    },
    {
        "events": [
            event("fault_raised", 1, 1, 2, "cell_ov_warning", cell_v=HOT),
            event("module_returned", 7, 2, 3),
            event("comms_lost", 2.5, 1, 3),
        ],
        "strings": [contactor(7, 1, closed=True)],
    },
    {"events": [event("comms_restored", 3.5, 1, 3), event("contactor_closed", 6, 1)]},
]

# (code, string, module, cell, value, state, raised, last raised, cleared, occurrences)
ALARMS = [
    ("cell_ov_warning", 1, 2, 7, 3.55, "unacked", at(1), at(8), None, 2),
    ("cell_uv_warning", 2, 1, None, None, "rtn_unacked", at(2), at(2), at(3), 1),
    ("module_comms_lost", 1, 3, None, None, "rtn_unacked", at(2.5), at(2.5), at(3.5), 1),
]
# (string, module, reason, by, fault code, onset, isolated, returned): the maintenance opening
# has no fault behind it (the warning standing since t=8 did not cause it): it starts when
# the string opened, and counts in no KPI (app/isolations/onset.py).
ISOLATIONS = [
    (1, None, "fault", "bms", "cell_ov_warning", at(1), at(1.5), at(6)),
    (1, None, "maintenance", "bms", None, at(9), at(9), None),
    (2, 3, "other", "bms", None, at(4), at(4), at(7)),
]
CONTACTORS = [(1, False), (2, True)]  # each string's latest sample


def new_site(url: str) -> DeviceSite:
    """A fresh committed site with its edge device (each example starts from nothing)."""

    async def create() -> DeviceSite:
        engine = create_async_engine(url)
        try:
            return await committed_device_site(engine)
        finally:
            await engine.dispose()

    return asyncio.run(create())


def final_state(dsn: str, site_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Alarms, isolations and contactor state as stored."""
    alarms = query_rows(
        dsn,
        "SELECT a.code, r.index, m.position, a.cell_index + 1, round(a.value::numeric, 3)::float8,"
        " a.state, a.raised_at, a.last_raised_at, a.cleared_at, a.occurrences FROM alarm a "
        "JOIN rack r ON r.id = a.rack_id LEFT JOIN module m ON m.id = a.module_id "
        "WHERE a.site_id = %s ORDER BY a.code, a.raised_at",
        site_id,
    )
    isolations = query_rows(
        dsn,
        "SELECT r.index, m.position, i.reason, i.isolated_by, i.fault_code, i.onset_at, "
        "i.isolated_at, i.returned_at FROM isolation i JOIN rack r ON r.id = i.rack_id "
        "LEFT JOIN module m ON m.id = i.module_id WHERE i.site_id = %s "
        "ORDER BY r.index, m.position NULLS FIRST, i.isolated_at",
        site_id,
    )
    contactors = query_rows(
        dsn,
        "SELECT r.index, l.contactor_closed FROM rack_latest l JOIN rack r ON r.id = l.rack_id "
        "WHERE r.site_id = %s ORDER BY r.index",
        site_id,
    )
    return {"alarms": alarms, "isolations": isolations, "contactors": contactors}


@st.composite
def deliveries(draw: st.DrawFn) -> list[tuple[int, bool]]:
    """The batches in any order, some sent again: (batch, under a new sequence number?)."""
    order = draw(st.permutations(range(len(HISTORY))))
    sent = [(i, False) for i in order]
    for _ in range(draw(st.integers(0, 2))):
        again = (draw(st.sampled_from(order)), draw(st.booleans()))
        sent.insert(draw(st.integers(0, len(sent))), again)
    return sent


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sent=deliveries())
def test_any_arrival_order_gives_the_same_alarms_isolations_and_contactors(
    server: LiveServer, test_database_url: str, sent: list[tuple[int, bool]]
) -> None:
    site = new_site(test_database_url)
    seqs: dict[int, int] = {}
    for index, renumbered in sent:
        if index not in seqs or renumbered:
            seqs[index] = next(SEQ)
        rows = HISTORY[index]
        body = batch(site.code, seqs[index], events=rows["events"], strings=rows.get("strings"))
        response = post_batch(server, site.token, body)
        assert response.status_code == 200, response.text
        assert response.json()["rejections"] == []
    state = final_state(psycopg_dsn(test_database_url), site.site_id)
    assert state["alarms"] == ALARMS
    assert state["isolations"] == ISOLATIONS
    assert state["contactors"] == CONTACTORS


def post_events(server: LiveServer, site: DeviceSite, *events: dict[str, Any]) -> None:
    """One batch of events, accepted whole."""
    response = post_batch(server, site.token, batch(site.code, next(SEQ), events=list(events)))
    assert response.status_code == 200, response.text
    assert response.json()["rejections"] == []


def acknowledge(server: LiveServer, dsn: str, site: DeviceSite) -> None:
    """An operator acknowledges the site's one standing alarm."""
    ((alarm,),) = query_rows(dsn, "SELECT id FROM alarm WHERE site_id = %s", site.site_id)
    answer = server.http.post(
        f"{server.url}/api/v1/alarms/{alarm}/acknowledge", json={"note": "seen, watching it"}
    )
    assert answer.status_code == 200, answer.text


ROWS = "SELECT state, raised_at, last_raised_at, occurrences, cleared_at, ack_note FROM alarm "


@pytest.mark.parametrize("late_first", ["clear", "raise"])
def test_an_acknowledgement_stays_valid_whatever_arrives_after_it(
    server: LiveServer, test_database_url: str, late_first: str
) -> None:
    dsn = psycopg_dsn(test_database_url)
    site = new_site(test_database_url)
    post_events(server, site, event("fault_raised", 1, 1, 2, "cell_ov_warning", cell_v=HOT))
    acknowledge(server, dsn, site)
    # From the backlog, after the acknowledgement: the fault had cleared and risen again
    # before it (event time), so the operator acknowledged a standing alarm.
    late = {
        "clear": event("fault_cleared", 5, 1, 2, "cell_ov_warning"),
        "raise": event("fault_raised", 8, 1, 2, "cell_ov_warning", cell_v=HOTTER),
    }
    post_events(server, site, late.pop(late_first))
    post_events(server, site, *late.values())
    rows = query_rows(dsn, ROWS + "WHERE site_id = %s", site.site_id)
    assert rows == [("acked", at(1), at(8), 2, None, "seen, watching it")]


def test_a_shelved_alarm_stays_shelved_and_learns_of_a_late_clear(
    server: LiveServer, test_database_url: str
) -> None:
    dsn = psycopg_dsn(test_database_url)
    site = new_site(test_database_url)
    post_events(server, site, event("fault_raised", 8, 1, 2, "cell_ov_warning", cell_v=HOT))
    ((alarm,),) = query_rows(dsn, "SELECT id FROM alarm WHERE site_id = %s", site.site_id)
    shelved = server.http.post(
        f"{server.url}/alarms/{alarm}/shelve",
        data={"minutes": "60", "reason": "known sensor fault"},
        headers={"HX-Request": "true"},
    )
    assert shelved.status_code == 204
    post_events(
        server,
        site,
        event("fault_cleared", 9, 1, 2, "cell_ov_warning"),
        event("fault_raised", 1, 1, 2, "cell_ov_warning", cell_v=HOTTER),
    )
    rows = query_rows(dsn, ROWS + "WHERE site_id = %s", site.site_id)
    assert rows == [("shelved", at(1), at(8), 2, at(9), None)]
