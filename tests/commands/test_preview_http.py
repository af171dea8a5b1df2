"""The command preview over real HTTP: it runs the interlocks the send runs, says what would
make a refused command possible, and states the real change in power and capacity online."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.commands.test_commands_http import edge_headers, poll, queue, state
from tests.db import psycopg_dsn
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.wire import batch, full_site_rows, post_batch, string_row

HTMX = {"HX-Request": "true"}
ISOLATE_1 = {"kind": "isolate_string", "string": "1", "reason": "maintenance", "note": "fan"}
# 3 x 100 A of discharge at 843.2 V; without string 1 the others may take 2 x 140 A, 279 A with
# the 1 A margin, which is 279 x 843.2 / 1000 = 235 kW. Their own 200 A fit in it, so derating
# string 1 to 0 % first is enough.
REASON = (
    "the site is carrying 300 A of discharge current and the limits of the other 2 strings add "
    "up to 280 A"
)
REMEDY = (
    "derate string 1 to 0 % first, so the site draws no more than the other 2 strings can carry "
    "(279 A, about 235 kW at 843 V)"
)


def post_strings(server: LiveServer, site: DeviceSite, seq: int, *rows: dict[str, Any]) -> None:
    """Store string telemetry taken now."""
    response = post_batch(server, site.token, batch(site.code, seq, strings=list(rows)))
    assert response.status_code == 200, response.text


@pytest.fixture
async def busy(engine: AsyncEngine, server: LiveServer) -> DeviceSite:
    """A 3-string site whose strings each carry 100 A of discharge."""
    site = await committed_device_site(engine, racks=3)
    now = datetime.now(UTC)
    earlier = full_site_rows(now - timedelta(seconds=5), strings=3)
    first = post_batch(server, site.token, batch(site.code, 1, **earlier))
    assert first.status_code == 200, first.text
    post_strings(server, site, 2, *(string_row(s, now, current_a=100.0) for s in (1, 2, 3)))
    return site


def preview(
    server: LiveServer,
    site: DeviceSite,
    form: dict[str, str],
    *,
    client: httpx.Client | None = None,
) -> httpx.Response:
    """Ask for the confirmation step, as the page's form does through htmx."""
    return (client or server.http).post(
        f"{server.url}/sites/{site.code}/commands/preview", data=form, headers=HTMX
    )


def answer_text(html: str) -> str:
    """The answer's words, without markup."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


def commands_in_db(url: str, site: DeviceSite) -> int:
    """How many commands the site has."""
    with psycopg.connect(psycopg_dsn(url)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM command WHERE site_id = %s", (site.site_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_the_preview_refuses_what_the_send_would_and_says_what_makes_it_possible(
    server: LiveServer, busy: DeviceSite, test_database_url: str
) -> None:
    shown = preview(server, busy, ISOLATE_1)
    assert shown.status_code == 409
    assert '<p class="refusal">' in shown.text
    assert f'<span class="remedy">To make it possible, {REMEDY}.</span>' in shown.text
    assert answer_text(shown.text) == (
        f"Cannot send isolate string, string 1 now: {REASON}. To make it possible, {REMEDY}."
    )
    assert "Confirm and send" not in shown.text
    assert commands_in_db(test_database_url, busy) == 0  # the preview queued nothing

    # Sending anyway (a stale page, or no JavaScript) is refused with the same words.
    sent = server.http.post(f"{server.url}/sites/{busy.code}/commands/send", data=ISOLATE_1)
    assert sent.status_code == 409
    assert "<title>" in sent.text  # a whole page without htmx
    assert f"Refused, nothing was sent:</strong> {REASON}." in sent.text
    assert f'<span class="remedy">To make it possible, {REMEDY}.</span>' in sent.text
    api = queue(server, busy, kind="isolate_string", string=1)
    assert api.status_code == 409
    assert api.json()["error"]["message"] == f"{REASON}; {REMEDY}"
    assert api.json()["error"]["details"] == [{"reason": REASON, "remedy": REMEDY}]
    assert commands_in_db(test_database_url, busy) == 0


def test_following_the_remedy_lets_the_isolation_through(
    server: LiveServer, busy: DeviceSite, test_database_url: str
) -> None:
    derate = queue(server, busy, kind="derate", string=1, pct=0).json()
    waiting = answer_text(preview(server, busy, ISOLATE_1).text)
    assert waiting.endswith(
        f"command #{derate['id']} (derate) is still in flight on this target. To make it "
        f"possible, wait for command #{derate['id']} to finish or cancel it."
    )
    poll(server, busy)  # the edge has it now: it can no longer be cancelled, only cleared
    assert answer_text(preview(server, busy, ISOLATE_1).text).endswith(
        f"wait for command #{derate['id']} to finish (the edge has it; every state has a "
        "deadline), or clear it with a reason if it is stuck."
    )
    at = datetime.now(UTC)
    zero = {
        "contactor_closed": 1,
        "current_a": 0.0,
        "charge_limit_a": 0.0,
        "discharge_limit_a": 0.0,
    }
    reported = server.http.post(
        f"{server.url}/api/v1/edge/commands/{derate['id']}/result",
        json={"outcome": "acked", "at": at.isoformat(), "evidence": {"1.0": zero}},
        headers=edge_headers(busy),
    )
    assert reported.json()["state"] == "verified"
    post_strings(
        server,
        busy,
        3,
        string_row(1, at, current_a=0.0, charge_limit_a=0.0, discharge_limit_a=0.0),
        *(string_row(s, at, current_a=100.0) for s in (2, 3)),
    )

    shown = preview(server, busy, ISOLATE_1)
    assert shown.status_code == 200
    # String 1 at 0 % already counts for nothing: 2 of 3 strings, 67 % of 100 kW, either way
    # (the preview used to count a string at 0 % as a full one: "100 kW → 67 kW").
    assert (
        "Impact: site power 67 kW → 67 kW, 2 of 3 strings online, capacity online 67 % → 67 %."
    ) in shown.text
    assert "Confirm and send" in shown.text
    sent = server.http.post(
        f"{server.url}/sites/{busy.code}/commands/send", data=ISOLATE_1, headers=HTMX
    )
    assert sent.status_code == 200, sent.text
    queued = re.search(r"Command #(\d+) queued", sent.text)
    assert queued is not None
    assert state(test_database_url, int(queued[1])) == "queued"


def test_the_last_string_and_a_missing_one_say_what_to_do(
    server: LiveServer, busy: DeviceSite
) -> None:
    now = datetime.now(UTC)
    post_strings(
        server,
        busy,
        3,
        *(string_row(s, now, contactor_closed=False, current_a=0.0) for s in (1, 2)),
    )
    last = answer_text(preview(server, busy, {**ISOLATE_1, "string": "3"}).text)
    assert last.endswith(
        "this is the last connected string; isolating it would trip the site. To make it "
        "possible, return another string to service first."
    )
    missing = answer_text(preview(server, busy, {**ISOLATE_1, "string": "9"}).text)
    assert missing.endswith(
        "this site has no string 9. To make it possible, choose a string from 1 to 3."
    )


def test_a_role_refusal_still_says_why(server: LiveServer, busy: DeviceSite) -> None:
    form = {**ISOLATE_1, "reason": "fault"}
    shown = preview(server, busy, form, client=server.client("technician"))
    assert shown.status_code == 403
    assert answer_text(shown.text) == (
        "Refused, nothing was sent: a technician may isolate, return or reset equipment for "
        "maintenance only."
    )


def test_the_preview_and_the_site_agree_on_capacity_online(
    server: LiveServer, busy: DeviceSite
) -> None:
    # String 1 at full limits, string 2 derated to 30 % (42 of 140 A), string 3 open:
    # 1 + 0.3 = 1.3 of 3 strings, 43.3 % of the 100 kW nameplate.
    now = datetime.now(UTC)
    post_strings(
        server,
        busy,
        3,
        string_row(1, now),
        string_row(2, now, charge_limit_a=42.0, discharge_limit_a=42.0),
        string_row(3, now, contactor_closed=False, current_a=0.0),
    )
    listed = server.http.get(f"{server.url}/api/v1/sites/{busy.code}").json()
    assert listed["capacity_online_pct"] == pytest.approx(100 * 1.3 / 3)
    lift = {"kind": "derate", "string": "2", "pct": "100", "reason": "other", "note": "cooled"}
    back = {"kind": "return_string", "string": "3", "reason": "maintenance", "note": "done"}
    # Lifting the derate: 2 of 3 (66.7 %); returning string 3 at full limits: 2.3 of 3 (76.7 %).
    assert answer_text(preview(server, busy, lift).text).startswith(
        "Confirm: derate, string 2 to 100 % Impact: site power 43 kW → 67 kW, 2 of 3 strings "
        "online, capacity online 43 % → 67 %."
    )
    assert (
        "Impact: site power 43 kW → 77 kW, 3 of 3 strings online, capacity online 43 % → 77 %."
    ) in preview(server, busy, back).text
