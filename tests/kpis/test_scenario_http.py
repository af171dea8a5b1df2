"""One scripted site history, posted over real HTTP as the edge and an operator would, and the
KPIs the API and the page must show, worked out by hand in the comments.

The site has 3 strings of 100 kWh (300 kWh nameplate), 140 A each. B is a whole minute about two
hours ago; N is when the test starts. String samples run every 20 s from B for an hour.
"""

import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from app.jobs import rollup_once
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.wire import batch, iso, post_batch

SEQ = itertools.count(1)
OPEN = {"contactor_closed": 0, "current_a": 0.0, "charge_limit_a": 140, "discharge_limit_a": 140}


def ev(
    kind: str,
    ts: datetime,
    string: int,
    module: int | None = None,
    code: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A wire event at an absolute time."""
    row = {
        "ts": iso(ts),
        "kind": kind,
        "target": "module" if module else "string",
        "string": string,
    } | extra
    return row | ({"module": module} if module else {}) | ({"code": code} if code else {})


def string_1_state(t: float) -> tuple[float, float, float]:
    """String 1's SoC %, charged and discharged kWh at t s after B: rest at 50 % for a minute,
    charge 20 kWh to 70 % (1 %/min), give out 19 kWh back down to 50 % (1 %/min), rest."""
    charging = min(max((t - 60) / 60, 0), 20)
    discharging = min(max((t - 1260) / 60, 0), 20)
    return 50 + charging - discharging, 1000 + charging, 900 + 0.95 * discharging


def string_row(string: int, b: datetime, t: int) -> dict[str, Any]:
    """A string sample t s after B, following the script below."""
    trip = 3000 <= t < 3120  # minutes 50-51: the policy's trip has every string open
    closed = not trip and not (string == 2 and 600 <= t < 1200)  # the BMS opened string 2
    limit = 70.0 if string == 3 and t >= 1800 else 140.0  # string 3 derated from minute 30
    soc, charged, discharged = string_1_state(t) if string == 1 else (50.0, 500.0, 400.0)
    return {
        "ts": iso(b + timedelta(seconds=t)),
        "string": string,
        "current_a": 0.0,
        "soc_pct": round(soc, 4),
        "contactor_closed": closed,
        "charge_limit_a": limit,
        "discharge_limit_a": limit,
        "energy_charged_kwh": round(charged, 4),
        "energy_discharged_kwh": round(discharged, 4),
    }


def post(
    server: LiveServer,
    site: DeviceSite,
    *,
    strings: list[dict[str, Any]] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> None:
    """One batch from the edge."""
    body = batch(site.code, next(SEQ) + 100_000, strings=strings, events=events)
    answer = post_batch(server, site.token, body)
    assert answer.status_code == 200, answer.text


def edge(site: DeviceSite) -> dict[str, str]:
    """The edge's credentials."""
    return {"Authorization": f"Bearer {site.token}"}


def at(moment: datetime) -> None:
    """Wait until the clock has passed `moment` (an event is posted once it has happened)."""
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds() + 0.05))


def history(server: LiveServer, site: DeviceSite, b: datetime, n: datetime) -> None:
    """The telemetry and events the edge sends, and the edge policy's trip report."""
    for first in range(0, 3600, 1200):
        post(
            server,
            site,
            strings=[
                string_row(s, b, t) for t in range(first, first + 1200, 20) for s in (1, 2, 3)
            ],
        )

    def sec(seconds: float) -> datetime:
        return b + timedelta(seconds=seconds)

    post(
        server,
        site,
        events=[
            ev("fault_raised", sec(0), 2, 1, "cell_uv_warning"),  # A1: stands all along, unacked
            ev("fault_raised", sec(599), 2, 3, "cell_ov_alarm"),  # A2
            ev("contactor_opened", sec(599.4), 2, disable_reason=1),  # (a) the BMS's own opening
            ev("contactor_closed", sec(1199), 2),
            ev("fault_raised", sec(2999), 1, 2, "over_temp_alarm"),  # A3: the trip's trigger
            *(ev("contactor_opened", sec(2999.3), s) for s in (1, 2, 3)),  # (b) the trip
            *(ev("contactor_closed", sec(3119), s) for s in (1, 2, 3)),
            ev("fault_raised", n - timedelta(seconds=900), 3, 2, "cell_uv_warning"),  # A5: unacked
            ev("fault_raised", n - timedelta(seconds=300), 3, None, "insulation_alarm"),  # A4
        ],
    )
    trip = {
        "ref": "edge-1:trip",
        "kind": "trip",
        "trigger": {
            "tier": "safety",
            "code": "over_temp_alarm",
            "onset_at": iso(sec(2999)),
            "string": 1,
            "module": 2,
        },
        "sent_at": iso(sec(2999.1)),
        "outcome": "acked",
        "acked_at": iso(sec(2999.2)),
        "reported_at": iso(sec(3010)),
    }
    answer = server.http.post("/api/v1/edge/policy-actions", json=trip, headers=edge(site))
    assert answer.status_code == 201, answer.text  # after the feedback: the link was down


def operator_isolates(
    server: LiveServer,
    site: DeviceSite,
    string: int,
    *,
    reason: str,
    opened: datetime,
    closed: datetime,
    alarm_id: int | None = None,
) -> None:
    """An operator isolates a string; the edge carries it out, then the string is returned."""
    request = {"kind": "isolate_string", "string": string, "reason": reason, "note": "scenario"}
    request |= {"alarm_id": alarm_id} if alarm_id else {}
    queued = server.http.post(f"/api/v1/sites/{site.code}/commands", json=request)
    assert queued.status_code == 201, queued.text
    command = queued.json()["id"]
    assert [
        c["id"] for c in server.http.get("/api/v1/edge/commands", headers=edge(site)).json()
    ] == [command]
    sent = datetime.fromisoformat(
        server.http.get(f"/api/v1/sites/{site.code}/commands").json()["items"][0]["sent_at"]
    )
    assert sent < opened, "the machine was too slow for the script"
    at(opened)
    result = {"outcome": "acked", "at": iso(opened), "evidence": {f"{string}.0": OPEN}}
    answer = server.http.post(
        f"/api/v1/edge/commands/{command}/result", json=result, headers=edge(site)
    )
    assert answer.json()["state"] == "verified", answer.text
    post(server, site, events=[ev("contactor_opened", opened, string)])
    at(closed)
    post(server, site, events=[ev("contactor_closed", closed, string)])


def alarm_ids(server: LiveServer, site: DeviceSite) -> dict[tuple[str, int | None], int]:
    """The site's alarms by (code, module)."""
    items = server.http.get(f"/api/v1/sites/{site.code}/alarms", params={"state": "all"})
    return {(a["code"], a["string"]): a["id"] for a in items.json()["items"]}


def acknowledge(server: LiveServer, alarm_id: int) -> datetime:
    """An operator acknowledges; when the backend recorded it."""
    answer = server.http.post(f"/api/v1/alarms/{alarm_id}/acknowledge", json={"note": "seen"})
    assert answer.status_code == 200, answer.text
    return datetime.fromisoformat(answer.json()["acked_at"])


def shown(seconds: float) -> str:
    """A duration as the page prints it (templates/macros.html)."""
    if seconds < 120:
        return f'{seconds:.1f}<span class="unit"> s</span>'
    if seconds < 7200:
        return f'{seconds / 60:.1f}<span class="unit"> min</span>'
    return f'{seconds / 3600:.1f}<span class="unit"> h</span>'


def card(page: str, kpi: str) -> str:
    """One KPI card of the page."""
    found = page[page.index(f'id="kpi-{kpi}"') :]
    return found[: found.index("</article>")]


async def test_kpis_of_a_scripted_history_are_the_hand_computed_ones(
    engine: AsyncEngine, server: LiveServer
) -> None:
    site = await committed_device_site(engine, racks=3, nameplate_energy_kwh=300.0)
    n = datetime.now(UTC)
    b = (n - timedelta(hours=2)).replace(second=0, microsecond=0)
    history(server, site, b, n)
    alarms = alarm_ids(server, site)
    # (c) An operator isolates string 3 naming the insulation alarm A4 (raised N - 300 s); the
    # contactors open at N + 5 s and close at N + 8 s. (d) An operator isolates string 1 for a
    # fault naming none, (e) string 2 for maintenance: neither counts anywhere.
    operator_isolates(
        server,
        site,
        3,
        reason="fault",
        opened=n + timedelta(seconds=5),
        closed=n + timedelta(seconds=8),
        alarm_id=alarms[("insulation_alarm", 3)],
    )
    now = datetime.now(UTC)
    operator_isolates(
        server,
        site,
        1,
        reason="fault",
        opened=now + timedelta(seconds=1),
        closed=now + timedelta(seconds=2),
    )
    operator_isolates(
        server,
        site,
        2,
        reason="maintenance",
        opened=now + timedelta(seconds=3),
        closed=now + timedelta(seconds=4),
    )
    acked = {
        code: acknowledge(server, alarms[(code, string)])
        for code, string in (("cell_ov_alarm", 2), ("over_temp_alarm", 1), ("insulation_alarm", 3))
    }
    await rollup_once(async_sessionmaker(engine))

    report = server.http.get(f"/api/v1/sites/{site.code}/kpis", params={"window": "7d"}).json()
    page = server.client("viewer").get("/kpis", params={"site": site.code, "window": "7d"}).text

    # MTTA: A2, A3 and A4 acknowledged (A1 and A5 not), each at the time the backend returned.
    waits = [
        acked["cell_ov_alarm"] - (b + timedelta(seconds=599)),
        acked["over_temp_alarm"] - (b + timedelta(seconds=2999)),
        acked["insulation_alarm"] - (n - timedelta(seconds=300)),
    ]
    mtta = sum(w.total_seconds() for w in waits) / 3
    assert (report["mtta"]["mean_s"], report["mtta"]["count"]) == (pytest.approx(mtta), 3)
    assert shown(mtta) in card(page, "mtta")

    # Time to isolate, from the fault that caused each isolation:
    #   (a) BMS: A2 (alarm, priority 2) at B+599, not A1 (an older warning): 599.4 - 599 = 0.4 s
    #   (b) edge policy: the trip's trigger A3 at B+2999 to each string's opening at B+2999.3,
    #       not A1 on string 2: 0.3 s, three times
    #   (c) operator: A4 at N - 300 s to N + 5 s: 305 s
    #   all: (0.4 + 3 x 0.3 + 305) / 5 = 61.26 s
    isolate = report["time_to_isolate"]
    by = {k: (v["mean_s"], v["count"]) for k, v in isolate.items()}
    assert by == {
        "all": (pytest.approx(61.26), 5),
        "bms": (pytest.approx(0.4), 1),
        "edge_policy": (pytest.approx(0.3), 3),
        "operator": (pytest.approx(305.0), 1),
    }
    assert card(page, "isolate").count(shown(61.26)) == 1
    assert (
        f"bms {shown(0.4)} (1) · edge policy {shown(0.3)} (3) · operator {shown(305)} (1)"
        in card(page, "isolate")
    )

    # MTTR, onset to return: (a) B+1199 - B+599 = 600 s; (b) B+3119 - B+2999 = 120 s, three
    # times; (c) N + 8 - (N - 300) = 308 s. Sorted 120, 120, 120, 308, 600: mean 1268 / 5 =
    # 253.6 s, median 120 s, p90 at rank 3.6: 308 + 0.6 x (600 - 308) = 483.2 s.
    mttr = report["mttr"]
    assert (mttr["mean_s"], mttr["median_s"], mttr["p90_s"], mttr["count"]) == (
        pytest.approx(253.6),
        pytest.approx(120.0),
        pytest.approx(483.2),
        5,
    )
    assert f"mean {shown(253.6)} · median {shown(120)} · p90 {shown(483.2)}" in card(page, "mttr")

    # Availability over the 60 minutes of string data. Time-based: every minute but the trip's
    # two had a string connected: 58 / 60. Capacity-weighted, the connected share per minute:
    # 0-9 3/3, 10-19 2/3 (string 2 open), 20-29 3/3, 30-49 2.5/3 (string 3 at half its limits),
    # 50-51 0, 52-59 2.5/3: (10 + 10 x 2/3 + 10 + 20 x 2.5/3 + 8 x 2.5/3) / 60 = 50 / 60.
    availability = report["availability"]
    assert availability == {
        "time_based": pytest.approx(58 / 60),
        "capacity_weighted": pytest.approx(50 / 60),
        "minutes": 60,
    }
    assert 'time-based 96.7<span class="unit"> %</span> · capacity-weighted 83.3' in card(
        page, "availability"
    )

    # Round-trip efficiency: string 1 took in 20 kWh and gave out 19 kWh between 50 % and 50 %:
    # 95 %. Strings 2 and 3 did not move: their cycles charged nothing and do not count.
    assert report["round_trip_efficiency"] == pytest.approx(0.95)
    assert (report["energy"]["strings"], report["energy"]["losses_kwh"]) == (1, pytest.approx(1))
    assert '<p class="figure">95.0<span class="unit"> %</span></p>' in card(page, "rte")

    # Pareto: alarms by code, with the MTTR of the isolations each caused.
    pareto = sorted((r["code"], r["alarms"], r["mttr_s"]) for r in report["fault_pareto"])
    assert pareto == [
        ("cell_ov_alarm", 1, pytest.approx(600)),
        ("cell_uv_warning", 2, None),
        ("insulation_alarm", 1, pytest.approx(308)),
        ("over_temp_alarm", 1, pytest.approx(120)),
    ]
