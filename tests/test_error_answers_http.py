"""Requests that used to get a 500 (or a log full of tracebacks) get a clear answer instead."""

import asyncio
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import BASE_URL
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer, free_port, live_server


@pytest.fixture
async def site(engine: AsyncEngine, server: LiveServer) -> DeviceSite:
    """A committed site the operator sees."""
    return await committed_device_site(engine)


def json_operations(server: LiveServer) -> list[tuple[str, str]]:
    """(method, path) of every operation whose body is JSON."""
    spec: dict[str, Any] = server.http.get("/api/openapi.json").json()
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                found.append((method, path))
    return found


@pytest.mark.parametrize("media_type", ["text/plain", "application/xml", "image/png"])
def test_a_json_route_sent_another_media_type_answers_415(
    server: LiveServer, site: DeviceSite, media_type: str
) -> None:
    operations = json_operations(server)
    assert ("post", "/api/v1/sites/{code}/commands") in operations
    for method, path in operations:
        url = path.replace("{code}", site.code).replace("{alarm_id}", "1")
        url = url.replace("{command_id}", "1")
        answer = server.http.request(
            method, url, content=b"\x89PNG\r\n\xff not json", headers={"Content-Type": media_type}
        )
        assert answer.status_code != 500, (path, answer.text)
        assert "error" in answer.json(), (path, answer.text)
    answer = server.http.post(
        f"/api/v1/sites/{site.code}/commands",
        content=b"kind=derate",
        headers={"Content-Type": media_type},
    )
    assert answer.status_code == 415, answer.text
    error = answer.json()["error"]
    assert error["code"] == "unsupported_media_type"
    assert f"not {media_type!r}" in error["message"]


@pytest.mark.parametrize("route", ["telemetry", "export"])
@pytest.mark.parametrize(
    "bound", ["end=9999-12-31T23:59:59-14:00", "start=0001-01-01T00:00:00%2B14:00"]
)
def test_a_time_past_what_utc_holds_is_422(
    server: LiveServer, site: DeviceSite, route: str, bound: str
) -> None:
    answer = server.http.get(f"/api/v1/sites/{site.code}/{route}?{bound}")
    assert answer.status_code == 422, answer.text
    (detail,) = answer.json()["error"]["details"]
    assert detail["field"] == f"query.{bound.partition('=')[0]}"
    assert "outside the years 1 to 9999 once converted to UTC" in detail["message"]


def test_an_export_past_the_size_limit_is_422_naming_it_and_paging(
    server: LiveServer, site: DeviceSite
) -> None:
    params = {
        "start": "2016-01-01T00:00:00Z",
        "end": "2026-01-01T00:00:00Z",
        "fields": "soc_pct,cell_v",
    }
    answer = server.http.get(f"/api/v1/sites/{site.code}/export", params=params)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "export_too_large"
    # 6 modules x 10 years of seconds x 2 fields
    assert error["details"][0]["value"] == 6 * 315_619_200 * 2
    assert "RIDETHROUGH_EXPORT_MAX_VALUES" in error["message"]
    assert f"GET /api/v1/sites/{site.code}/telemetry with cursor=" in error["message"]
    hourly_params = {**params, "resolution": "1h", "fields": "soc_pct"}
    hourly = server.http.get(f"/api/v1/sites/{site.code}/export", params=hourly_params)
    assert hourly.status_code == 200, hourly.text


@pytest.fixture(scope="module")
def no_database() -> Iterator[tuple[LiveServer, Path]]:
    """A backend whose database is not there (nothing listens on its port), log in a file."""
    url = make_url(BASE_URL).set(port=free_port())
    with tempfile.TemporaryDirectory() as folder:
        log_path = Path(folder) / "server.log"
        with (
            log_path.open("wb") as log,
            live_server(
                {"RIDETHROUGH_DATABASE_URL": url.render_as_string(hide_password=False)}, log=log
            ) as running,
        ):
            yield running, log_path


def test_with_the_database_down_requests_get_503_and_the_log_a_line(
    no_database: tuple[LiveServer, Path],
) -> None:
    server, log_path = no_database
    headers = {"Authorization": "Bearer rta_whatever"}
    began = time.monotonic()
    answers = [
        httpx.get(f"{server.url}/api/v1/sites", headers=headers, timeout=30) for _ in range(40)
    ]
    page = httpx.get(
        f"{server.url}/",
        headers={"Accept": "text/html"},
        cookies={"ridethrough_session": "whatever"},
        timeout=30,
    )
    assert {a.status_code for a in answers} == {503}
    assert all(a.headers["retry-after"] == "5" for a in answers)
    assert answers[0].json()["error"]["code"] == "service_unavailable"
    assert page.status_code == 503
    assert "<html" in page.text.lower()
    time.sleep(1)
    log = log_path.read_text()
    assert "Traceback" not in log
    lines = [line for line in log.splitlines() if "database unavailable" in line]
    # One line per kind per 10 s, however many requests failed.
    assert 1 <= len(lines) <= 2 + (time.monotonic() - began) / 10, lines


@pytest.fixture(scope="module")
def logged_server(test_database_url: str) -> Iterator[tuple[LiveServer, Path]]:
    """A backend on the test database, its log kept in a file."""
    with tempfile.TemporaryDirectory() as folder:
        log_path = Path(folder) / "server.log"
        with (
            log_path.open("wb") as log,
            live_server({"RIDETHROUGH_DATABASE_URL": test_database_url}, log=log) as running,
        ):
            yield running, log_path


def hang_up_mid_upload(url: str, token: str) -> None:
    """Start an ingest upload of 100 kB, send a few bytes of it and hang up."""
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1]))) as sock:
        sock.sendall(
            b"POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
            b"Content-Type: application/json\r\nAuthorization: Bearer "
            + token.encode()
            + b'\r\n\r\n{"sch'
        )
        time.sleep(0.3)


async def test_a_client_hanging_up_mid_upload_is_not_an_error(
    engine: AsyncEngine, logged_server: tuple[LiveServer, Path]
) -> None:
    server, log_path = logged_server
    site = await committed_device_site(engine)
    for _ in range(3):
        await asyncio.to_thread(hang_up_mid_upload, server.url, site.token)
    await asyncio.sleep(1)
    log = log_path.read_text()
    assert log.count("client went away during POST /api/v1/ingest") == 3
    assert "Traceback" not in log
    assert " ERROR " not in log
