"""REST API v1 over real HTTP: registry, latest state, telemetry pages, alarms, isolations, KPIs,
API tokens, and errors that name the field."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import MODULES, SAMPLES, STRINGS, Recorded, TokenMaker, soc_at
from tests.db import psycopg_dsn
from tests.factories import committed_device_site
from tests.server import LiveServer
from tests.wire import T0


def get(server: LiveServer, path: str, **params: Any) -> Any:
    """GET as an operator; the JSON body of a 200."""
    answer = server.http.get(f"{server.url}{path}", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def every_page(server: LiveServer, path: str, **params: Any) -> list[dict[str, Any]]:
    """Follow next_cursor to the end; every item of every page."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        body = get(server, path, **params, **({"cursor": cursor} if cursor else {}))
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def test_registry_and_latest_state(server: LiveServer, recorded: Recorded) -> None:
    code = recorded.site.code
    site = get(server, f"/api/v1/sites/{code}")
    assert (site["strings"], site["modules"]) == (STRINGS, STRINGS * MODULES)
    assert site["alarms_unacked"] == 1
    assert [s["string"] for s in get(server, f"/api/v1/sites/{code}/strings")["items"]] == [1, 2]
    modules = every_page(server, f"/api/v1/sites/{code}/modules", limit=4)
    assert sorted((m["string"], m["position"]) for m in modules) == [
        (s, m) for s in range(1, STRINGS + 1) for m in range(1, MODULES + 1)
    ]
    assert len(get(server, f"/api/v1/sites/{code}/modules", string=2)["items"]) == MODULES
    latest = get(server, f"/api/v1/sites/{code}/latest")
    last = recorded.end - timedelta(seconds=5)
    assert {datetime.fromisoformat(m["ts"]) for m in latest["modules"]} == {last}
    mod = next(m for m in latest["modules"] if (m["string"], m["position"]) == (2, 3))
    assert mod["soc_pct"] == soc_at(SAMPLES - 1, 2, 3)
    codes = [s["code"] for s in every_page(server, "/api/v1/sites", limit=1)]
    assert code in codes
    assert codes == sorted(codes)


def test_raw_telemetry_pages_hold_every_sample_once(server: LiveServer, recorded: Recorded) -> None:
    code = recorded.site.code
    params = {
        "start": recorded.start.isoformat(),
        "end": recorded.end.isoformat(),
        "fields": "soc_pct,cell_v,spread_mv",
        "limit": 250,
    }
    rows = every_page(server, f"/api/v1/sites/{code}/telemetry", **params)
    assert len(rows) == SAMPLES * STRINGS * MODULES
    keys = {(r["string"], r["module"], r["ts"]) for r in rows}
    assert len(keys) == len(rows)
    for row in rows[:: len(rows) // 17]:
        k = int((datetime.fromisoformat(row["ts"]) - T0).total_seconds() // 5)
        assert row["values"]["soc_pct"] == soc_at(k, row["string"], row["module"])
        assert len(row["values"]["cell_v"]) == 16
        assert 0 < row["values"]["spread_mv"] < 10
    strings = every_page(
        server,
        f"/api/v1/sites/{code}/telemetry",
        entity="string",
        start=params["start"],
        end=params["end"],
        fields="power_kw",
    )
    assert len(strings) == SAMPLES * STRINGS
    assert {r["module"] for r in strings} == {None}


def test_bucketed_telemetry_from_the_rollups(server: LiveServer, recorded: Recorded) -> None:
    code = recorded.site.code
    window = {"start": recorded.start.isoformat(), "end": recorded.end.isoformat()}
    fields = "samples,soc_pct,cell_v_max"
    minutes = every_page(
        server,
        f"/api/v1/sites/{code}/telemetry",
        resolution="1m",
        fields=fields,
        string=1,
        module=2,
        **window,
    )
    assert len(minutes) == 10
    assert {r["values"]["samples"] for r in minutes} == {12}
    first = [soc_at(k, 1, 2) for k in range(12)]
    assert abs(minutes[0]["values"]["soc_pct"] - sum(first) / 12) < 1e-3
    quarter = get(
        server,
        f"/api/v1/sites/{code}/telemetry",
        resolution="15m",
        fields="samples",
        entity="string",
        **window,
    )["items"]
    assert [(r["string"], r["values"]["samples"]) for r in quarter] == [(1, SAMPLES), (2, SAMPLES)]


def test_bad_queries_name_the_field(server: LiveServer, recorded: Recorded) -> None:
    path = f"{server.url}/api/v1/sites/{recorded.site.code}/telemetry"
    cases = {
        (("fields", "soc_pct,nope"),): ("query.fields", "nope: not a raw module field"),
        (("fields", "samples"),): ("query.fields", "samples: not a raw module field"),
        (("cursor", "not-a-cursor"),): ("query.cursor", "not a cursor"),
        (("start", "2026-11-21T10:00:00"),): ("query.start", "timezone"),
        (("module", "2"),): ("", "module position needs"),
        (("start", "2026-11-21T11:00:00Z"), ("end", "2026-11-21T10:00:00Z")): ("", "not before"),
        (("resolution", "2m"),): ("query.resolution", "Input should be"),
    }
    for params, (field, message) in cases.items():
        answer = server.http.get(path, params=dict(params))
        assert answer.status_code == 422, (params, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "validation_error"
        detail = error["details"][0]
        assert detail["field"].startswith(field), (params, detail)
        assert message in detail["message"], (params, detail)


def test_alarms_isolations_and_kpis(server: LiveServer, recorded: Recorded) -> None:
    code = recorded.site.code
    (alarm,) = get(server, f"/api/v1/sites/{code}/alarms")["items"]
    assert (alarm["string"], alarm["module"], alarm["code"]) == (1, 2, "cell_ov_warning")
    acked = server.http.post(
        f"{server.url}/api/v1/alarms/{alarm['id']}/acknowledge", json={"note": "seen from the API"}
    )
    assert acked.status_code == 200, acked.text
    assert (acked.json()["state"], acked.json()["ack_note"]) == ("acked", "seen from the API")
    again = server.http.post(f"{server.url}/api/v1/alarms/{alarm['id']}/acknowledge", json={})
    assert again.status_code == 409
    assert get(server, f"/api/v1/sites/{code}/alarms", state="all")["items"][0]["id"] == alarm["id"]
    assert get(server, f"/api/v1/sites/{code}/isolations") == {"items": [], "next_cursor": None}
    kpis = get(server, f"/api/v1/sites/{code}/kpis", window="24h")
    assert kpis["time_to_isolate"]["all"]["count"] == 0
    assert set(kpis) >= {
        "spread_under_load",
        "mtta",
        "mttr",
        "availability",
        "fault_pareto",
        "round_trip_efficiency",
    }
    assert get(server, "/api/v1/kpis", window="7d")["mtta"]["count"] >= 1


async def test_api_tokens_read_write_scope_expiry_and_revocation(
    server: LiveServer, recorded: Recorded, make_token: TokenMaker, engine: AsyncEngine
) -> None:
    code = recorded.site.code
    other = await committed_device_site(engine)
    read, write = await make_token("read"), await make_token("write", sites=[code])
    elsewhere = await make_token("read", sites=[other.code])

    def call(token: str, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(
            method, f"{server.url}{path}", headers={"Authorization": f"Bearer {token}"}, **kw
        )

    assert call(read, "GET", f"/api/v1/sites/{code}/latest").status_code == 200
    (alarm,) = call(read, "GET", f"/api/v1/sites/{code}/alarms").json()["items"]
    ack = f"/api/v1/alarms/{alarm['id']}/acknowledge"
    assert call(read, "POST", ack, json={"note": "x"}).status_code == 403
    assert call(elsewhere, "GET", f"/api/v1/sites/{code}").status_code == 404
    assert code not in [s["code"] for s in call(elsewhere, "GET", "/api/v1/sites").json()["items"]]
    assert call(write, "POST", ack, json={"note": "by token"}).status_code == 200  # no CSRF
    # Tokens are for the API only: the pages still want a person signed in.
    page = call(read, "GET", f"/sites/{code}", follow_redirects=False)
    assert page.status_code == 303
    with psycopg.connect(psycopg_dsn(server.database_url)) as conn:
        conn.execute(
            "UPDATE api_token SET expires_at = now() - interval '1 s' "
            "WHERE token_hash = encode(sha256(%s::bytea), 'hex')",
            (read,),
        )
        conn.execute(
            "UPDATE api_token SET revoked_at = now() "
            "WHERE token_hash = encode(sha256(%s::bytea), 'hex')",
            (write,),
        )
        actors = [
            r[0]
            for r in conn.execute(
                "SELECT actor FROM audit_log WHERE action = 'alarm.acknowledge' AND target = %s",
                (f"alarm {alarm['id']}",),
            )
        ]
    expired = call(read, "GET", "/api/v1/sites")
    assert expired.status_code == 401
    assert "expired" in expired.json()["error"]["message"]
    revoked = call(write, "GET", "/api/v1/sites")
    assert (revoked.status_code, "revoked" in revoked.text) == (401, True)
    assert call("rta_made-up", "GET", "/api/v1/sites").json()["error"]["message"] == (
        "unknown API token"
    )
    assert any(a.startswith("token:") for a in actors), actors


def test_datetime_defaults_cover_the_last_hour(server: LiveServer, recorded: Recorded) -> None:
    body = get(server, f"/api/v1/sites/{recorded.site.code}/telemetry")
    # The recorded data is from T0 (hours ago): the default window (the last hour) is empty.
    assert datetime.now(UTC) - T0 > timedelta(hours=1)
    assert body == {"items": [], "next_cursor": None}
