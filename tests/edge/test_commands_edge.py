"""The edge's command path on a real virtual CAN bus with the simulated BMS: a delivery is
carried out once even when repeated or after a restart, and the edge vetoes on its own data."""

from typing import Any

import httpx

from edge.commands import POLL_PATH, poll_failure
from edge.interlock import edge_refusal
from tests.edge.conftest import Rig


def delivered(rig: Rig, **request: Any) -> dict[str, Any]:
    """Queue a command at the backend and take it as the edge's poll would."""
    body = {"reason": "maintenance", "note": "edge test", **request}
    queued = rig.server.http.post(
        f"{rig.server.url}/api/v1/sites/{rig.site.code}/commands", json=body
    )
    assert queued.status_code == 201, queued.text
    polled = httpx.get(
        f"{rig.server.url}/api/v1/edge/commands",
        headers={"Authorization": f"Bearer {rig.site.token}"},
    ).json()
    command: dict[str, Any] = next(c for c in polled if c["id"] == queued.json()["id"])
    return command


def state(rig: Rig, command_id: int) -> dict[str, Any]:
    """The command as the backend has it."""
    listed = rig.server.http.get(f"{rig.server.url}/api/v1/sites/{rig.site.code}/commands").json()[
        "items"
    ]
    found: dict[str, Any] = next(c for c in listed if c["id"] == command_id)
    return found


def test_a_repeated_delivery_is_carried_out_once(rig: Rig) -> None:
    command = delivered(rig, kind="derate", string=1, pct=60)
    first = rig.runner()
    first.handle(command)
    first.handle(command)  # the same delivery again (a repeated poll)
    first.stop()
    again = rig.runner()  # an edge restart: a new runner on the same journal
    again.handle(command)
    again.stop()
    assert len(rig.commands_seen) == 1
    assert state(rig, command["id"])["state"] in ("acked", "verified")


def test_an_interrupted_command_is_not_repeated_after_a_restart(rig: Rig) -> None:
    command = delivered(rig, kind="reset_alarms", string=2)
    runner = rig.runner()
    runner.journal.start(command["id"], 0.0)  # started, then the edge died before finishing
    runner.handle(command)
    runner.stop()
    assert rig.commands_seen == []
    after = state(rig, command["id"])
    assert after["state"] == "failed"
    assert "restarted" in after["result"]["detail"]


def test_a_command_that_expired_in_transit_is_not_sent(rig: Rig) -> None:
    command = delivered(rig, kind="reset_alarms", string=1)
    command["expires_at"] = "2020-01-01T00:00:00+00:00"  # the poll answer came too late
    runner = rig.runner()
    runner.handle(command)
    runner.stop()
    assert rig.commands_seen == []
    assert state(rig, command["id"])["result"]["detail"] == "expired before the edge could send it"


def readings(closed: bool, current: float, limit: float = 140.0) -> dict[str, float]:
    """A string's latest readings as the collector keeps them."""
    return {"contactor_closed": 1.0 if closed else 0.0, "current_a": current,
            "charge_limit_a": limit, "discharge_limit_a": limit}  # fmt: skip


def test_the_edge_vetoes_on_what_it_sees() -> None:
    alone = {1: readings(True, 0.0), 2: readings(False, 0.0)}
    busy = {1: readings(True, -100.0), 2: readings(True, -100.0)}
    fine = {1: readings(True, -50.0), 2: readings(True, -50.0)}
    assert edge_refusal("isolate_string", 1, alone) == (
        "edge interlock: this is the last connected string"
    )
    assert edge_refusal("isolate_string", 1, busy) == (
        "edge interlock: 200 A would exceed the remaining strings' 140 A"
    )
    assert edge_refusal("isolate_string", 1, fine) is None
    assert edge_refusal("derate", 1, alone) is None


def test_a_refused_poll_is_logged_in_one_line_with_the_backends_reason(rig: Rig) -> None:
    answer = httpx.get(f"{rig.server.url}{POLL_PATH}", headers={"Authorization": "Bearer nope"})
    with_body = httpx.HTTPStatusError("refused", request=answer.request, response=answer)
    proxy = httpx.Response(502, text="<html>bad gateway</html>", request=answer.request)
    without = httpx.HTTPStatusError("refused", request=proxy.request, response=proxy)

    assert poll_failure(with_body) == f"backend answered 401: {answer.json()['error']['message']}"
    assert poll_failure(without) == "backend answered 502: Bad Gateway"
    assert poll_failure(httpx.ConnectError("refused")) == "refused"
