"""What schemathesis found, each pinned by a request of its own: answers that were 500s, or that
said something the API description does not."""

from typing import Any

import httpx

from tests.api.conftest import Recorded
from tests.server import LiveServer
from tests.wire import batch, post_batch

TOO_BIG = 2**70  # beyond any id column


def test_405_names_every_method_the_path_takes(server: LiveServer) -> None:
    answer = server.http.request("OPTIONS", "/api/v1/sites/anywhere/commands")
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "GET, POST"  # two routes share the path


def test_ids_beyond_their_column_are_refused_not_500(
    server: LiveServer, recorded: Recorded
) -> None:
    acked = server.http.post(f"/api/v1/alarms/{TOO_BIG}/acknowledge", json={"note": "x"})
    assert acked.status_code == 422
    assert acked.json()["error"]["details"][0]["field"] == "path.alarm_id"
    device = {"Authorization": f"Bearer {recorded.site.token}"}
    result = {"outcome": "acked", "at": "2026-12-05T10:00:00Z"}
    reported = httpx.post(
        f"{server.url}/api/v1/edge/commands/{TOO_BIG}/result", json=result, headers=device
    )
    assert reported.status_code == 422


def test_a_body_that_is_not_json_is_refused_not_500(server: LiveServer) -> None:
    answer = server.http.post(
        "/api/v1/alarms/1/acknowledge",
        content=b"\xff\xfe not json",
        headers={"Content-Type": "application/json"},
    )
    assert 400 <= answer.status_code < 500
    assert answer.json()["error"]["code"] in ("bad_request", "validation_error")


def test_an_edge_id_that_is_not_a_uuid_is_refused_by_name(
    server: LiveServer, recorded: Recorded
) -> None:
    body = batch(recorded.site.code, 1, edge_id="00003f0f7960b05cdce9e0-e0648a1c00693")
    answer = post_batch(server, recorded.site.token, body)
    assert answer.status_code == 422, answer.text
    assert "edge_id" in answer.text


def test_evidence_is_numbers_as_documented(server: LiveServer, recorded: Recorded) -> None:
    device = {"Authorization": f"Bearer {recorded.site.token}"}
    result: dict[str, Any] = {
        "outcome": "acked",
        "at": "2026-12-05T10:00:00Z",
        "evidence": {"1.0": {"contactor_closed": True}},
    }
    answer = httpx.post(f"{server.url}/api/v1/edge/commands/1/result", json=result, headers=device)
    assert answer.status_code == 422, answer.text
    assert "contactor_closed" in answer.text


def test_times_are_iso_8601_not_numbers(server: LiveServer, recorded: Recorded) -> None:
    answer = server.http.get(
        f"/api/v1/sites/{recorded.site.code}/telemetry", params={"start": "0.5"}
    )
    assert answer.status_code == 422
    assert "ISO 8601" in answer.text


def test_an_edge_result_time_is_iso_8601_not_a_number(
    server: LiveServer, recorded: Recorded
) -> None:
    device = {"Authorization": f"Bearer {recorded.site.token}"}
    answer = httpx.post(
        f"{server.url}/api/v1/edge/commands/1/result",
        json={"outcome": "acked", "at": 0},
        headers=device,
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["details"][0]["field"] == "body.at"
