"""Fuzzing ingest over real HTTP: random payloads never crash it and never store a bad value.

Each example takes a valid batch and breaks it at random (fields replaced by values of any JSON
type, NaN and infinity included, fields dropped, keys added, the body cut short or replaced by
noise). The answer must be a 2xx or a 4xx that names the problem, the counts in a 200 must add
up, and nothing out of range may be in the database afterwards.
"""

import gzip
import itertools
import json
from datetime import timedelta
from typing import Any

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.wire import T0, batch, iso, module_row, string_row

SEQ = itertools.count(1)
ANSWERS = {200, 400, 403, 413, 415, 422}
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=20) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)
# Rows out of range, non-finite or in the far future, in module_sample (any module of the site,
# announced ones included) or rack_sample.
BAD_MODULE_ROWS = """
SELECT count(*) FROM module_sample WHERE module_id IN (
    SELECT m.id FROM module m JOIN rack r ON r.id = m.rack_id WHERE r.site_id = %(site)s
) AND (
    EXISTS (SELECT 1 FROM unnest(cell_v) v WHERE NOT v BETWEEN 0 AND 5)
    OR EXISTS (SELECT 1 FROM unnest(temp_c) t WHERE NOT t BETWEEN -40 AND 125)
    OR NOT coalesce(soc_pct BETWEEN 0 AND 100, true)
    OR NOT coalesce(soh_pct BETWEEN 0 AND 100, true)
    OR voltage_v = 'NaN' OR current_a = 'NaN' OR ts > now() + interval '10 minutes')
"""
BAD_STRING_ROWS = """
SELECT count(*) FROM rack_sample s JOIN rack r ON r.id = s.rack_id WHERE r.site_id = %(site)s
AND (NOT coalesce(s.soc_pct BETWEEN 0 AND 100, true) OR s.voltage_v = 'NaN'
     OR s.current_a = 'NaN' OR s.ts > now() + interval '10 minutes')
"""


@pytest.fixture(scope="module")
async def fuzz_site(engine: AsyncEngine) -> DeviceSite:
    """One site for every example (rows get new timestamps, so each is stored afresh)."""
    return await committed_device_site(engine)


def valid_body(site: DeviceSite) -> dict[str, Any]:
    """A good batch with fresh timestamps and a fresh sequence number."""
    seq = next(SEQ)
    ts = T0 + timedelta(seconds=seq)
    body = batch(
        site.code,
        seq,
        edge_id="00000000-0000-0000-0000-0000000000f5",
        modules=[module_row(s, m, ts) for s in (1, 2) for m in (1, 2, 3)],
        strings=[string_row(s, ts) for s in (1, 2)],
        events=[
            {
                "ts": iso(ts),
                "kind": "fault_raised",
                "target": "module",
                "string": 1,
                "module": 2,
                "code": "cell_ov_warning",
            }
        ],
    )
    body["assets"] = [{"string": 1, "module": 2, "cell_count": 16, "temp_count": 4}]
    return body


@st.composite
def broken_bodies(draw: st.DrawFn, site: DeviceSite) -> bytes:
    """A valid batch with random damage, serialised (sometimes gzipped, cut or replaced)."""
    body = valid_body(site)
    for _ in range(draw(st.integers(1, 4))):
        target = draw(st.sampled_from(_objects(body)))
        key = draw(st.sampled_from([*sorted(target), "extra"]))
        if draw(st.integers(0, 4)) == 0:
            target.pop(key, None)
        else:
            target[key] = draw(JSON_VALUES)
    data = json.dumps(body).encode()  # NaN and Infinity come out as bare literals
    damage = draw(st.sampled_from(["none"] * 6 + ["cut", "noise"]))
    if damage == "cut":
        # A share of the body, not a byte count: the body's length follows the sequence number,
        # and a draw bounded by it would differ when hypothesis replays the same choices.
        data = data[: len(data) * draw(st.integers(0, 1000)) // 1000]
    elif damage == "noise":
        data = draw(st.binary(max_size=200))
    return gzip.compress(data) if draw(st.booleans()) else data


def _objects(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The envelope and every row that is still an object (earlier damage may have replaced a
    section or a row by something else)."""
    rows = [
        row
        for section in ("modules", "strings", "events", "assets")
        if isinstance(body.get(section), list)
        for row in body[section]
        if isinstance(row, dict)
    ]
    return [body, *rows]


def post(server: LiveServer, site: DeviceSite, data: bytes) -> httpx.Response:
    """POST raw bytes as the edge would (gzip declared when the bytes are gzip)."""
    headers = {"Authorization": f"Bearer {site.token}", "Content-Type": "application/json"}
    if data[:2] == b"\x1f\x8b":
        headers["Content-Encoding"] = "gzip"
    return httpx.post(f"{server.url}/api/v1/ingest", content=data, headers=headers, timeout=30)


def bad_rows_stored(dsn: str, site: DeviceSite) -> int:
    """Stored rows of the site that break a range, are not finite or lie in the future."""
    params = {"site": site.site_id}
    with psycopg.connect(dsn) as conn:
        modules = conn.execute(BAD_MODULE_ROWS, params).fetchone()
        strings = conn.execute(BAD_STRING_ROWS, params).fetchone()
    assert modules is not None
    assert strings is not None
    return int(modules[0]) + int(strings[0])


@pytest.mark.usefixtures("server")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_payloads_get_clear_answers_and_store_nothing_invalid(
    data: st.DataObject, server: LiveServer, fuzz_site: DeviceSite, test_database_url: str
) -> None:
    response = post(server, fuzz_site, data.draw(broken_bodies(fuzz_site)))

    assert response.status_code in ANSWERS, response.text
    answer = response.json()
    if response.status_code == 200:
        for section in ("modules", "strings", "assets"):
            counts = answer[section]
            done = counts["stored"] + counts["already_stored"] + counts["rejected"]
            assert done == counts["received"], answer
        for rejection in answer["rejections"]:
            assert rejection["field"]
            assert rejection["reason"]
    else:
        assert answer["error"]["code"], answer  # the one error envelope, saying what is wrong
        assert answer["error"]["message"], answer
    if response.status_code == 403:
        # Only a batch that names another site is forbidden, and the answer says whose token.
        assert f"this device's token is for site {fuzz_site.code!r}" in answer["error"]["message"]
    assert bad_rows_stored(psycopg_dsn(test_database_url), fuzz_site) == 0
