"""Exports against the database: every format and layout has the rows and values stored."""

import csv
import io
import json
import math
from datetime import datetime
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest

from app.telemetry.sign import CONVENTION
from tests.api.conftest import Recorded
from tests.db import psycopg_dsn
from tests.server import LiveServer

FIELDS = ("soc_pct", "cell_v_max", "cell_v")
Key = tuple[datetime, int, int]


def stored(server: LiveServer, site_id: int) -> dict[Key, tuple[Any, ...]]:
    """The module samples of the site as stored: (ts, string, module) -> field values."""
    with psycopg.connect(psycopg_dsn(server.database_url)) as conn:
        rows = conn.execute(
            "SELECT s.ts, r.index, m.position, s.soc_pct, s.cell_v_max, s.cell_v "
            "FROM module_sample s JOIN module m ON m.id = s.module_id "
            "JOIN rack r ON r.id = m.rack_id WHERE r.site_id = %s",
            (site_id,),
        ).fetchall()
    return {(ts, string, module): tuple(values) for ts, string, module, *values in rows}


def download(server: LiveServer, recorded: Recorded, fmt: str, layout: str) -> bytes:
    """The export as the client receives it."""
    params = {
        "format": fmt,
        "layout": layout,
        "fields": ",".join(FIELDS),
        "start": recorded.start.isoformat(),
        "end": recorded.end.isoformat(),
    }
    answer = server.http.get(
        f"{server.url}/api/v1/sites/{recorded.site.code}/export", params=params
    )
    assert answer.status_code == 200, answer.text
    assert f".{fmt}" in answer.headers["content-disposition"]
    return answer.content


def wide_records(fmt: str, data: bytes) -> list[dict[str, Any]]:
    """Wide rows as dicts of Python values, whatever the format."""
    if fmt == "parquet":
        return list(pq.read_table(io.BytesIO(data)).to_pylist())
    if fmt == "ndjson":
        return [json.loads(line) for line in data.decode().splitlines()]
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    return [
        {
            **r,
            "string": int(r["string"]),
            "module": int(r["module"]),
            "soc_pct": float(r["soc_pct"]),
            "cell_v_max": float(r["cell_v_max"]),
            "cell_v": [float(v) for v in r["cell_v"].split(";")],
        }
        for r in rows
    ]


def long_records(fmt: str, data: bytes) -> list[tuple[Any, str, str, float]]:
    """Long rows as (ts, entity, metric, value), whatever the format."""
    if fmt == "parquet":
        table = pq.read_table(io.BytesIO(data)).to_pydict()
        return list(zip(table["ts"], table["entity"], table["metric"], table["value"], strict=True))
    if fmt == "ndjson":
        lines = [json.loads(line) for line in data.decode().splitlines()]
        return [(r["ts"], r["entity"], r["metric"], r["value"]) for r in lines]
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert rows[0] == ["ts", "entity", "metric", "value"]
    return [(ts, entity, metric, float(value)) for ts, entity, metric, value in rows[1:]]


def as_time(value: Any) -> datetime:
    """A Parquet timestamp, or an ISO-8601 text that must be UTC with a Z."""
    if isinstance(value, datetime):
        return value
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value)


def close(a: float, b: float) -> bool:
    """Equal, up to Parquet's 32-bit floats for arrays."""
    return math.isclose(a, b, rel_tol=1e-6)


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
def test_wide_export_matches_the_database(server: LiveServer, recorded: Recorded, fmt: str) -> None:
    expected = stored(server, recorded.site.site_id)
    records = wide_records(fmt, download(server, recorded, fmt, "wide"))
    assert len(records) == len(expected) == 720
    seen = set()
    for record in records:
        key = (as_time(record["ts"]), record["string"], record["module"])
        soc, vmax, cells = expected[key]
        assert (record["soc_pct"], record["cell_v_max"]) == (soc, vmax)
        assert all(close(a, b) for a, b in zip(record["cell_v"], cells, strict=True))
        seen.add(key)
    assert seen == set(expected)


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
def test_long_export_matches_the_database(server: LiveServer, recorded: Recorded, fmt: str) -> None:
    expected = stored(server, recorded.site.site_id)
    records = long_records(fmt, download(server, recorded, fmt, "long"))
    # Two scalars and sixteen cells per sample; nulls would be left out (there are none here).
    assert len(records) == len(expected) * (2 + 16)
    for ts, entity, metric, value in records[:: len(records) // 50]:
        string, module = (int(part[1:]) for part in entity.split("."))
        soc, vmax, cells = expected[as_time(ts), string, module]
        if metric.startswith("cell_v."):
            assert close(value, cells[int(metric.split(".")[1]) - 1])
        else:
            assert value == {"soc_pct": soc, "cell_v_max": vmax}[metric]


def test_an_empty_export_is_a_valid_file(server: LiveServer, recorded: Recorded) -> None:
    params = {"format": "parquet", "start": "2020-01-01T00:00:00Z", "end": "2020-01-02T00:00:00Z"}
    answer = server.http.get(
        f"{server.url}/api/v1/sites/{recorded.site.code}/export", params=params
    )
    assert answer.status_code == 200
    assert pq.read_table(io.BytesIO(answer.content)).num_rows == 0
    csv_answer = server.http.get(
        f"{server.url}/api/v1/sites/{recorded.site.code}/export", params={**params, "format": "csv"}
    )
    assert csv_answer.text.splitlines() == [
        "ts,string,module,soc_pct,current_a,cell_v_min,cell_v_max,temp_c_max"
    ]


def test_currents_and_powers_carry_their_sign_convention(
    server: LiveServer, recorded: Recorded
) -> None:
    # In a Parquet file, per column: a data user reading the file alone still knows the sign.
    params = {
        "format": "parquet",
        "entity": "string",
        "fields": "current_a,power_kw,soc_pct",
        "start": recorded.start.isoformat(),
        "end": recorded.end.isoformat(),
    }
    answer = server.http.get(
        f"{server.url}/api/v1/sites/{recorded.site.code}/export", params=params
    )
    schema = pq.read_table(io.BytesIO(answer.content)).schema
    for name, unit in (("current_a", b"A"), ("power_kw", b"kW")):
        metadata = schema.field(name).metadata
        assert metadata[b"unit"] == unit
        assert CONVENTION in metadata[b"description"].decode()
    assert b"description" not in schema.field("soc_pct").metadata
    # In the API's own description: the latest state, the site and the telemetry fields.
    document = server.http.get(f"{server.url}/api/openapi.json").json()
    schemas = document["components"]["schemas"]
    for model, field in (
        ("StringLatest", "current_a"),
        ("StringLatest", "power_kw"),
        ("SiteOut", "power_kw"),
    ):
        assert CONVENTION in schemas[model]["properties"][field]["description"]
    telemetry = document["paths"]["/api/v1/sites/{code}/telemetry"]["get"]["parameters"]
    fields = next(p for p in telemetry if p["name"] == "fields")
    assert CONVENTION in fields["description"]
