"""POST /api/v1/ingest over real HTTP into the real database."""

import gzip
import json
from datetime import timedelta

import httpx
import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.test_cli import run_cli
from tests.wire import T0, batch, full_site_rows, module_row, string_row
from tests.wire import post_batch as post

pytestmark = pytest.mark.usefixtures("server")


@pytest.fixture
async def site(engine: AsyncEngine) -> DeviceSite:
    """A committed 2 x 3 module site with an edge device."""
    return await committed_device_site(engine)


def count(dsn: str, sql: str, *params: object) -> int:
    """A single integer from the database."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


def module_samples(dsn: str, site: DeviceSite) -> int:
    """Module samples stored for a site."""
    return count(
        dsn, "SELECT count(*) FROM module_sample WHERE module_id = ANY(%s)", site.module_ids
    )


def test_batch_is_stored_with_latest_state(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    response = post(server, site.token, batch(site.code, 1, **full_site_rows(T0)))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["duplicate_batch"] is False
    assert body["modules"] == {"received": 6, "stored": 6, "already_stored": 0, "rejected": 0}
    assert body["strings"]["stored"] == 2
    dsn = psycopg_dsn(test_database_url)
    assert module_samples(dsn, site) == 6
    assert (
        count(dsn, "SELECT count(*) FROM module_latest WHERE module_id = ANY(%s)", site.module_ids)
        == 6
    )
    with psycopg.connect(dsn) as conn:
        cells = conn.execute(
            "SELECT cell_v, cell_v_max, cell_v_max_idx FROM module_sample WHERE module_id = %s",
            (site.module_ids[0],),
        ).fetchone()
    assert cells == (module_row(1, 1, T0)["cell_v"], 3.294, 4)


def test_same_batch_twice_is_stored_once(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    body = batch(site.code, 1, **full_site_rows(T0))
    assert post(server, site.token, body).json()["duplicate_batch"] is False
    again = post(server, site.token, body).json()
    assert again["duplicate_batch"] is True
    assert again["modules"]["already_stored"] == 6
    assert module_samples(psycopg_dsn(test_database_url), site) == 6


def test_overlapping_batch_adds_only_new_samples(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    post(server, site.token, batch(site.code, 1, **full_site_rows(T0)))
    overlap = full_site_rows(T0)
    overlap["modules"] += [module_row(1, 1, T0 + timedelta(seconds=1))]
    response = post(server, site.token, batch(site.code, 2, **overlap)).json()
    assert response["duplicate_batch"] is False
    assert response["modules"] == {"received": 7, "stored": 1, "already_stored": 6, "rejected": 0}
    assert module_samples(psycopg_dsn(test_database_url), site) == 7


def test_bad_rows_are_refused_with_reasons_and_good_rows_kept(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    rows = [
        module_row(1, 1, T0),
        module_row(1, 2, T0, cell_v=[3.3] * 15 + [7.2]),
        module_row(1, 3, T0, soc_pct=130),
        module_row(2, 9, T0),
        module_row(2, 1, T0 + timedelta(days=2)),
        module_row(2, 2, T0, cell_v=[3.3] * 12),
    ]
    body = batch(site.code, 1, modules=rows, strings=[string_row(7, T0)])
    response = post(server, site.token, body, gz=False)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["modules"]["stored"] == 1
    refused = {(r["section"], r["row"], r["field"]) for r in result["rejections"]}
    assert refused == {
        ("modules", 1, "cell_v.15"),
        ("modules", 2, "soc_pct"),
        ("modules", 3, "module"),
        ("modules", 4, "ts"),
        ("modules", 5, "cell_v"),
        ("strings", 0, "string"),
    }
    reasons = {r["row"]: r["reason"] for r in result["rejections"] if r["section"] == "modules"}
    assert "less than or equal to 5" in reasons[1]
    assert "no module 9" in reasons[3]
    assert "12 cell voltages for a 16-cell module" in reasons[5]
    dsn = psycopg_dsn(test_database_url)
    assert module_samples(dsn, site) == 1
    assert count(dsn, "SELECT count(*) FROM ingest_rejection WHERE site_id = %s", site.site_id) == 6


def test_nan_is_refused(server: LiveServer, site: DeviceSite) -> None:
    text = json.dumps(batch(site.code, 1, modules=[module_row(1, 1, T0)])).replace(
        '"soc_pct": 55.5', '"soc_pct": NaN'
    )
    response = httpx.post(
        f"{server.url}/api/v1/ingest",
        content=text,
        headers={"Authorization": f"Bearer {site.token}"},
    )
    assert response.status_code == 200
    assert response.json()["rejections"][0]["field"] == "soc_pct"
    assert response.json()["modules"]["stored"] == 0


@pytest.mark.parametrize(
    ("counters", "field"),
    [
        ('{"frames": NaN}', "counters.frames"),
        ('{"rejected": {"dlc": Infinity}}', "counters.rejected.dlc"),
        ('{"frames": "many"}', "counters.frames"),
        ('{"fr\\u0000mes": 1}', "counters."),
    ],
)
def test_counters_that_are_not_finite_counts_are_refused_by_name(
    server: LiveServer, site: DeviceSite, test_database_url: str, counters: str, field: str
) -> None:
    text = json.dumps(batch(site.code, 1, **full_site_rows(T0)))
    text = text.replace('"counters": {"frames": 1}', f'"counters": {counters}')
    response = httpx.post(
        f"{server.url}/api/v1/ingest",
        content=text,
        headers={"Authorization": f"Bearer {site.token}"},
    )
    assert response.status_code == 422, response.text
    fields = [d["field"] for d in response.json()["error"]["details"]]
    assert any(f.startswith(field) for f in fields), fields
    dsn = psycopg_dsn(test_database_url)
    assert module_samples(dsn, site) == 0
    assert (
        count(
            dsn,
            "SELECT count(*) FROM ingest_batch b JOIN edge_device d "
            "ON d.id = b.edge_device_id WHERE d.site_id = %s",
            site.site_id,
        )
        == 0
    )


@pytest.mark.parametrize("depth", [50, 900, 5000])
def test_deeply_nested_values_get_a_clear_answer_not_a_crash(
    server: LiveServer, site: DeviceSite, test_database_url: str, depth: int
) -> None:
    nested = "[" * depth + "1" + "]" * depth
    text = json.dumps(batch(site.code, 1, modules=[module_row(1, 1, T0), module_row(1, 2, T0)]))
    text = text.replace('"soc_pct": 55.5', f'"soc_pct": {nested}', 1)
    response = httpx.post(
        f"{server.url}/api/v1/ingest",
        content=text,
        headers={"Authorization": f"Bearer {site.token}"},
    )
    if depth > 1000:  # deeper than any JSON parser here goes: the body as a whole is refused
        assert response.status_code == 400, response.text
        assert "nested too deeply" in response.json()["error"]["message"]
        assert module_samples(psycopg_dsn(test_database_url), site) == 0
        return
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["modules"]["stored"] == 1
    (rejection,) = answer["rejections"]
    assert (rejection["row"], rejection["field"]) == (0, "soc_pct")
    # The refused value comes back short, however deep it was.
    assert isinstance(rejection["value"], str)
    assert len(rejection["value"]) <= 200


def test_deeply_nested_counters_are_refused_by_name(server: LiveServer, site: DeviceSite) -> None:
    text = json.dumps(batch(site.code, 1, **full_site_rows(T0)))
    nested = '{"a": ' * 600 + "1" + "}" * 600
    text = text.replace('"counters": {"frames": 1}', f'"counters": {nested}')
    response = httpx.post(
        f"{server.url}/api/v1/ingest",
        content=text,
        headers={"Authorization": f"Bearer {site.token}"},
    )
    assert response.status_code == 422, response.text
    (detail,) = response.json()["error"]["details"]
    assert detail["field"].startswith("counters.a.a")
    assert "nest at most" in detail["message"]


def test_a_software_version_with_control_characters_is_refused(
    server: LiveServer, site: DeviceSite
) -> None:
    body = batch(site.code, 1, **full_site_rows(T0))
    body["software_version"] = "1.0\u0000"
    response = post(server, site.token, body)
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["error"]["details"]] == ["software_version"]


def test_a_refused_value_holding_nul_is_recorded_escaped(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    body = batch(
        site.code, 1, modules=[module_row(1, 1, T0), module_row(1, 2, T0, balancing="\u0000")]
    )
    response = post(server, site.token, body)
    assert response.status_code == 200, response.text
    assert response.json()["modules"]["stored"] == 1
    (rejection,) = response.json()["rejections"]
    assert (rejection["row"], rejection["field"]) == (1, "balancing")
    dsn = psycopg_dsn(test_database_url)
    with psycopg.connect(dsn) as conn:
        stored = conn.execute(
            "SELECT field, value FROM ingest_rejection WHERE site_id = %s", (site.site_id,)
        ).fetchall()
    assert stored == [("balancing", "\\u0000")]


async def test_a_token_cannot_write_to_another_site(
    server: LiveServer, site: DeviceSite, engine: AsyncEngine, test_database_url: str
) -> None:
    other = await committed_device_site(engine)
    response = post(server, site.token, batch(other.code, 1, **full_site_rows(T0)))
    assert response.status_code == 403
    assert f"for site '{site.code}'" in response.json()["error"]["message"]
    assert module_samples(psycopg_dsn(test_database_url), other) == 0


@pytest.mark.parametrize("header", [None, "Bearer rte_not-a-real-token", "Basic abc"])
def test_missing_or_unknown_token_is_401(server: LiveServer, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = server.http.post(f"{server.url}/api/v1/ingest", content=b"{}", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_invalid_envelope_names_the_field(server: LiveServer, site: DeviceSite) -> None:
    body = batch(site.code, 0)
    del body["edge_id"]
    response = post(server, site.token, body)
    assert response.status_code == 422
    fields = {d["field"] for d in response.json()["error"]["details"]}
    assert fields == {"edge_id", "seq"}


def test_payload_limits_give_413(server: LiveServer, site: DeviceSite) -> None:
    headers = {"Authorization": f"Bearer {site.token}", "Content-Encoding": "gzip"}
    bomb = gzip.compress(b" " * (17 * 1024 * 1024))  # inflates past the 16 MiB limit
    response = server.http.post(f"{server.url}/api/v1/ingest", content=bomb, headers=headers)
    assert response.status_code == 413
    assert "16777216 bytes" in response.json()["error"]["message"]


def test_spool_overflow_reported_by_the_edge_raises_an_alarm(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    first = batch(site.code, 1, **full_site_rows(T0))
    first["counters"] = {"spool_dropped": 3}
    second = batch(site.code, 2, **full_site_rows(T0 + timedelta(seconds=1)))
    second["counters"] = {"spool_dropped": 3}  # same total: no new occurrence
    third = batch(site.code, 3, **full_site_rows(T0 + timedelta(seconds=2)))
    third["counters"] = {"spool_dropped": 5}
    for body in (first, second, third):
        assert post(server, site.token, body).status_code == 200
    with psycopg.connect(psycopg_dsn(test_database_url)) as conn:
        rows = conn.execute(
            "SELECT value, occurrences, priority FROM alarm WHERE site_id = %s "
            "AND code = 'edge_spool_overflow'",
            (site.site_id,),
        ).fetchall()
    assert rows == [(5.0, 2, 2)]


def test_admins_see_refusals_counted_per_site(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    rows = [
        module_row(1, 1, T0, soc_pct=130),
        module_row(1, 2, T0, soc_pct=140),
        module_row(2, 9, T0),
    ]
    post(server, site.token, batch(site.code, 1, modules=rows))
    result = run_cli(test_database_url, "rejections", "--site", site.code)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith(": 3")
    assert lines[1].split()[:2] == ["2", "modules"]
    assert "less than or equal to 100" in lines[1]
    assert "has no module 9" in lines[2]


def test_samples_older_than_the_bound_are_refused_by_row(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    # Year 0001 and a date just past the raw retention (30 days) are refused, each by its row;
    # one batch with weekly times used to make a chunk per row and break retention for good.
    rows = [
        module_row(1, 1, T0),
        module_row(1, 2, T0 - timedelta(days=31)),
        {**module_row(1, 3, T0), "ts": "0001-01-01T00:00:00Z"},
    ]
    strings = [string_row(1, T0 - timedelta(days=400))]
    response = post(server, site.token, batch(site.code, 1, modules=rows, strings=strings))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["modules"]["stored"] == 1
    refused = {(r["section"], r["row"], r["field"]): r for r in answer["rejections"]}
    assert set(refused) == {("modules", 1, "ts"), ("modules", 2, "ts"), ("strings", 0, "ts")}
    old = refused["modules", 2, "ts"]
    assert old["value"].startswith("0001-01-01")
    assert "older than the oldest sample time stored (earliest " in old["reason"]
    assert "RIDETHROUGH_INGEST_MAX_PAST_DAYS" in old["reason"]
    dsn = psycopg_dsn(test_database_url)
    assert module_samples(dsn, site) == 1
    assert (
        count(
            dsn,
            "SELECT count(*) FROM rack_sample r JOIN rack k ON k.id = r.rack_id "
            "WHERE k.site_id = %s",
            site.site_id,
        )
        == 0
    )


@pytest.mark.parametrize(
    ("counters", "field", "message"),
    [
        ({f"c{i}": i for i in range(201)}, "counters", "201 counter names"),
        (
            {"g": {f"c{i}": i for i in range(150)}, "h": {f"d{i}": 1 for i in range(60)}},
            "counters",
            "212 counter names",
        ),
        ({"x" * 65: 1}, "counters." + "x" * 64 + "…", "at most 64 characters, not 65"),
    ],
)
def test_counters_past_their_limits_are_refused_by_name(
    server: LiveServer, site: DeviceSite, counters: dict[str, object], field: str, message: str
) -> None:
    body = {**batch(site.code, 1, **full_site_rows(T0)), "counters": counters}
    response = post(server, site.token, body)
    assert response.status_code == 422, response.text
    (detail,) = response.json()["error"]["details"]
    assert detail["field"] == field
    assert message in detail["message"]


@pytest.mark.parametrize("sent_at", ["1e308", "nan", "inf", "-inf", "-5", "1e12"])
def test_an_edge_send_time_out_of_range_is_400_and_raises_no_alarm(
    server: LiveServer, site: DeviceSite, test_database_url: str, sent_at: str
) -> None:
    body = json.dumps(batch(site.code, 1, **full_site_rows(T0))).encode()
    headers = {"Authorization": f"Bearer {site.token}", "X-Edge-Sent-At": sent_at}
    response = httpx.post(f"{server.url}/api/v1/ingest", content=body, headers=headers)
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert message.startswith(f"X-Edge-Sent-At: {sent_at!r} is not a time in seconds")
    assert "a finite number from 0 to 253402300799" in message
    dsn = psycopg_dsn(test_database_url)
    assert count(dsn, "SELECT count(*) FROM alarm WHERE site_id = %s", site.site_id) == 0
