"""Site, string and module pages and the alarm actions, over real HTTP on a live backend."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.telemetry.sign import CONVENTION
from tests.db import psycopg_dsn
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.wire import T0, batch, event, full_site_rows, module_row, post_batch, string_row

HTMX = {"HX-Request": "true"}


@pytest.fixture
async def site(engine: AsyncEngine, server: LiveServer) -> DeviceSite:
    """A committed 2 x 3 site with one sample per module and a cell over-voltage warning."""
    site = await committed_device_site(engine)
    body = batch(site.code, 1, **full_site_rows(T0))
    cells = body["modules"][1]["cell_v"]  # string 1 module 2, as the edge read it
    body["events"] = [event("fault_raised", 0.5, 1, 2, "cell_ov_warning", cell_v=cells)]
    response = post_batch(server, site.token, body)
    assert response.status_code == 200, response.text
    return site


def alarm_id(url: str, site: DeviceSite) -> int:
    """The site's one alarm."""
    with psycopg.connect(psycopg_dsn(url)) as conn:
        row = conn.execute("SELECT id FROM alarm WHERE site_id = %s", (site.site_id,)).fetchone()
    assert row is not None
    return int(row[0])


def query_one(url: str, sql: str, *params: object) -> tuple[object, ...]:
    """One row from the database."""
    with psycopg.connect(psycopg_dsn(url)) as conn:
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    return tuple(row)


def test_site_page_shows_heatmap_strings_and_the_alarm(
    server: LiveServer, site: DeviceSite
) -> None:
    page = server.http.get(f"{server.url}/sites/{site.code}")
    assert page.status_code == 200
    assert page.text.count('class="hm ') == 6
    # The module with the alarm is outlined in its priority's colour and says so in text.
    alarmed = f'href="{site.code}/modules/{site.module_ids[1]}"'
    tag = page.text[page.text.rindex("<a", 0, page.text.index(alarmed)) : page.text.index(alarmed)]
    assert "alarm-3" in tag
    assert "Cell over-voltage warning" in page.text
    assert "String 1, module 2, cell" in page.text


def test_heatmap_metric_switch_and_live_part(server: LiveServer, site: DeviceSite) -> None:
    soc = server.http.get(f"{server.url}/sites/{site.code}", params={"metric": "soc"})
    live = server.http.get(
        f"{server.url}/sites/{site.code}?metric=soc", headers={**HTMX, "HX-Target": "site_map"}
    )
    bad = server.http.get(f"{server.url}/sites/{site.code}", params={"metric": "colour"})
    blank = server.http.get(f"{server.url}/sites/{site.code}", params={"metric": ""})
    assert "Modules: SoC" in soc.text
    # The live part alone, carrying its own URL to refresh from, and no hx-target for links
    # inside it to inherit.
    url = f"/sites/{site.code}?metric=soc"
    assert live.text.lstrip().startswith(
        f'<div id="site_map" data-live="telemetry alarms" data-live-url="{url}"'
    )
    assert "Modules: SoC" in live.text
    assert "<title>" not in live.text
    assert 'hx-target="this"' not in live.text
    assert bad.status_code == 422
    assert "metric" in bad.text
    assert blank.status_code == 200  # a blank choice is the default, not an error
    assert "Modules: Cell spread" in blank.text


def test_module_page_marks_min_and_max_cells(server: LiveServer, site: DeviceSite) -> None:
    page = server.http.get(f"{server.url}/sites/{site.code}/modules/{site.module_ids[0]}")
    assert page.status_code == 200
    assert page.text.count('role="listitem"') == 16
    assert "▲ max" in page.text
    assert "▼ min" in page.text
    assert "Sensor 4: <strong>24.0 °C</strong>" in page.text


def test_pages_of_unknown_assets_are_404_with_the_reason(
    server: LiveServer, site: DeviceSite
) -> None:
    html = {"Accept": "text/html"}
    other_site_module = 10**9
    assert server.http.get(f"{server.url}/sites/nowhere", headers=html).status_code == 404
    module = server.http.get(
        f"{server.url}/sites/{site.code}/modules/{other_site_module}", headers=html
    )
    string = server.http.get(f"{server.url}/sites/{site.code}/strings/9")
    assert module.status_code == 404
    assert f"this site has no module {other_site_module}" in module.text
    assert string.status_code == 404
    assert string.json()["error"]["message"] == "this site has no string 9"


def test_string_page(server: LiveServer, site: DeviceSite) -> None:
    page = server.http.get(f"{server.url}/sites/{site.code}/strings/1")
    assert page.status_code == 200
    for position, module_id in enumerate(site.module_ids[:3], start=1):
        assert f'href="/sites/{site.code}/modules/{module_id}">Module {position}</a>' in page.text
    assert f'href="/sites/{site.code}/modules/{site.module_ids[3]}"' not in page.text
    assert "Fault history" in page.text


def test_trend_keeps_gaps_as_gaps(server: LiveServer, site: DeviceSite) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    first = [now - timedelta(minutes=40) + timedelta(seconds=5 * i) for i in range(12)]
    second = [now - timedelta(minutes=10) + timedelta(seconds=5 * i) for i in range(12)]
    rows = [module_row(1, 1, ts) for ts in first + second]
    assert post_batch(server, site.token, batch(site.code, 2, modules=rows)).status_code == 200
    trend = server.http.get(
        f"{server.url}/sites/{site.code}/modules/{site.module_ids[0]}/trend.json",
        params={"range": "1h"},
    ).json()
    assert trend["source"] == "raw"
    spread = trend["spread_mv"]
    assert spread.count(None) == 1  # one break between the two runs of data
    assert len([v for v in spread if v is not None]) >= 12
    assert trend["x"] == sorted(trend["x"])


def test_acknowledge_with_a_note_is_audited_and_only_once(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    alarm = alarm_id(test_database_url, site)
    url = f"{server.url}/alarms/{alarm}/acknowledge"
    first = server.http.post(url, data={"note": "checking <b>cell</b> 7"}, headers=HTMX)
    again = server.http.post(url, data={"note": "twice"}, headers=HTMX)
    assert first.status_code == 204
    assert first.headers["HX-Trigger"] == "alarms-changed"
    assert again.status_code == 409
    assert "nothing to acknowledge" in again.json()["error"]["message"]
    state, note = query_one(
        test_database_url, "SELECT state, ack_note FROM alarm WHERE id = %s", alarm
    )
    assert (state, note) == ("acked", "checking <b>cell</b> 7")
    audit = query_one(
        test_database_url,
        "SELECT action, details->>'note' FROM audit_log WHERE target = %s",
        f"alarm {alarm}",
    )
    assert audit == ("alarm.acknowledge", "checking <b>cell</b> 7")
    page = server.http.get(f"{server.url}/alarms", params={"site": site.code})
    assert "checking &lt;b&gt;cell&lt;/b&gt; 7" in page.text  # notes are escaped


def test_plain_form_post_redirects_back(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    alarm = alarm_id(test_database_url, site)
    back = f"/sites/{site.code}"
    done = server.http.post(f"{server.url}/alarms/{alarm}/acknowledge", data={"back": back})
    offsite = server.http.post(
        f"{server.url}/alarms/{alarm}/shelve",
        data={"minutes": "15", "reason": "sensor swap", "back": "https://evil.example/"},
    )
    assert (done.status_code, done.headers["location"]) == (303, back)
    assert (offsite.status_code, offsite.headers["location"]) == (303, "/alarms")


def test_shelve_for_a_while_then_unshelve(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    alarm = alarm_id(test_database_url, site)
    refused = server.http.post(
        f"{server.url}/alarms/{alarm}/shelve", data={"minutes": "7", "reason": "x"}, headers=HTMX
    )
    shelved = server.http.post(
        f"{server.url}/alarms/{alarm}/shelve",
        data={"minutes": "60", "reason": "known sensor fault"},
        headers=HTMX,
    )
    assert refused.status_code == 422  # reason too short (and 7 minutes is not offered)
    assert shelved.status_code == 204
    state, minutes = query_one(
        test_database_url,
        "SELECT state, extract(epoch FROM shelved_until - now()) / 60 FROM alarm WHERE id = %s",
        alarm,
    )
    assert state == "shelved"
    assert 58 < float(minutes) <= 60  # type: ignore[arg-type]
    standing = server.http.get(f"{server.url}/alarms", params={"site": site.code})
    listed = server.http.get(f"{server.url}/alarms", params={"site": site.code, "state": "shelved"})
    assert f'data-alarm="{alarm}"' not in standing.text
    assert f'data-alarm="{alarm}"' in listed.text
    assert "known sensor fault" in listed.text
    assert (
        server.http.post(f"{server.url}/alarms/{alarm}/unshelve", headers=HTMX).status_code == 204
    )
    assert query_one(test_database_url, "SELECT state FROM alarm WHERE id = %s", alarm) == (
        "unacked",
    )


def test_module_alarms_are_suppressed_under_an_isolated_string(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    with psycopg.connect(psycopg_dsn(test_database_url)) as conn:
        conn.execute(
            "INSERT INTO isolation (site_id, rack_id, reason, isolated_by, onset_at, isolated_at) "
            "SELECT %s, id, 'maintenance', 'operator', %s, %s FROM rack "
            "WHERE site_id = %s AND index = 1",
            (site.site_id, T0, T0 + timedelta(seconds=1), site.site_id),
        )
    listed = server.http.get(
        f"{server.url}/alarms", params={"site": site.code, "state": "suppressed"}
    )
    standing = server.http.get(f"{server.url}/alarms", params={"site": site.code})
    assert "Suppressed (string isolated)" in listed.text
    assert "No alarms here." in standing.text
    page = server.http.get(f"{server.url}/sites/{site.code}")
    assert "isolated: maintenance, by operator" in page.text


def test_fault_log_search_filters_and_plain_language(server: LiveServer, site: DeviceSite) -> None:
    log = f"{server.url}/sites/{site.code}/faults"
    by_title = server.http.get(log, params={"q": "over-voltage", "window": "all"})
    by_meaning = server.http.get(log, params={"q": "imbalance near full", "window": "all"})
    nothing = server.http.get(log, params={"q": "insulation", "window": "all"})
    other_string = server.http.get(log, params={"string": "2", "window": "all"})
    literal = server.http.get(log, params={"q": "%", "window": "all"})
    assert by_title.text.count("data-fault=") == 1
    assert by_meaning.text.count("data-fault=") == 1
    assert "Check the cell&#39;s history and balancing activity" in by_title.text  # technician
    assert "LFP cells above 3.65 V age quickly" in by_title.text  # safety note
    assert nothing.text.count("data-fault=") == 0
    assert other_string.text.count("data-fault=") == 0
    assert literal.text.count("data-fault=") == 0  # % is searched for, not a wildcard


def test_fault_log_csv_matches_the_log(server: LiveServer, site: DeviceSite) -> None:
    response = server.http.get(
        f"{server.url}/sites/{site.code}/faults.csv", params={"window": "all", "string": "1"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f'filename="{site.code}-faults-' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 1
    row = rows[0]
    assert row["code"] == "cell_ov_warning"
    assert row["title"] == "Cell over-voltage warning"
    assert (row["string"], row["module"]) == ("1", "2")
    assert row["raised_at"] == f"{T0:%Y-%m-%d}T10:00:00.500000Z"
    assert row["state"] == "unacked"
    assert row["safety_note"].startswith("LFP cells above 3.65 V")


def test_kpi_page_shows_each_figure_with_its_definition(
    server: LiveServer, site: DeviceSite
) -> None:
    page = server.http.get(f"{server.url}/kpis", params={"site": site.code, "window": "30d"})
    fleet = server.http.get(f"{server.url}/kpis")
    unknown = server.http.get(f"{server.url}/kpis", params={"site": "nowhere"})
    assert page.status_code == 200
    for kpi in ("spread", "mtta", "isolate", "mttr", "availability", "rte", "balancing"):
        card = page.text[page.text.index(f'id="kpi-{kpi}"') :]
        assert '<p class="definition">' in card[: card.index("</article>")], kpi
    assert "Cell over-voltage warning" in page.text  # the Pareto names the site's fault
    assert fleet.status_code == 200
    assert "whole fleet" in fleet.text
    assert unknown.status_code == 404


def test_string_trend_has_the_hottest_module_sensor(server: LiveServer, site: DeviceSite) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [module_row(1, m, now - timedelta(minutes=5), temp_c=[20.0, 31.5 + m]) for m in (1, 2)]
    strings = [string_row(1, now - timedelta(minutes=5))]
    body = batch(site.code, 3, modules=rows, strings=strings)
    assert post_batch(server, site.token, body).status_code == 200
    trend = server.http.get(
        f"{server.url}/sites/{site.code}/strings/1/trend.json", params={"range": "1h"}
    ).json()
    assert trend["temp_c_max"] == [33.5]  # module 2's hottest sensor, in the string's bucket
    assert trend["current_a"] == [-40.0]


def test_the_command_history_is_paged_newest_first(server: LiveServer, site: DeviceSite) -> None:
    for n in range(12):
        queued = server.http.post(
            f"/api/v1/sites/{site.code}/commands",
            json={"kind": "reset_alarms", "reason": "other", "note": f"reset {n}"},
        )
        assert queued.status_code in (200, 201), queued.text
        cancelled = server.http.post(
            f"/api/v1/sites/{site.code}/commands/{queued.json()['id']}/cancel"
        )
        assert cancelled.status_code == 200, cancelled.text
    first = server.http.get(f"/sites/{site.code}", headers={**HTMX, "HX-Target": "site_commands"})
    notes = re.findall(r"“reset (\d+)”", first.text)
    assert notes == [str(n) for n in range(11, 1, -1)]  # the newest ten
    older = re.search(r'href="\?commands_before=(\d+)"', first.text)
    assert older is not None
    rest = server.http.get(
        f"/sites/{site.code}?commands_before={older.group(1)}",
        headers={**HTMX, "HX-Target": "site_commands"},
    )
    assert re.findall(r"“reset (\d+)”", rest.text) == ["1", "0"]
    assert "Newest commands" in rest.text
    assert "Older commands" not in rest.text


@pytest.mark.parametrize(
    ("path", "fragment", "labels"),
    [
        ("", "site_summary", ("Power",)),
        ("/strings/1", "string_live", ("Current", "Power")),
        ("/modules/{module}", "module_live", ("Current",)),
    ],
)
def test_every_current_and_power_says_which_sign_is_discharge(
    server: LiveServer, site: DeviceSite, path: str, fragment: str, labels: tuple[str, ...]
) -> None:
    url = f"{server.url}/sites/{site.code}{path.format(module=site.module_ids[0])}"
    full = server.http.get(url).text
    live = server.http.get(url, headers={**HTMX, "HX-Target": fragment}).text
    for html in (full, live):
        for label in labels:
            tooltip = re.search(rf'<dt><dfn title="([^"]*)">{label}</dfn></dt>', html)
            assert tooltip is not None, label
            assert CONVENTION in tooltip[1]
    # The site page's string table heads its current and power columns the same way.
    if not path:
        assert full.count(f'<dfn title="{CONVENTION}">') == 2
