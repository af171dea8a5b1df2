"""The edge's command path on a real virtual CAN bus with the simulated BMS: a delivery is
carried out once even when repeated or after a restart, and the edge vetoes on its own data."""

import time
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from edge.can.assemble import SYSTEM_KEY
from edge.can.command_frames import CommandFrames, Step
from edge.can.mapping import CommandMapping, CommandStep
from edge.can.protocol import load_protocol
from edge.control.bus_commands import BusCommander, Order, Outcome
from edge.control.commands import POLL_PATH, poll_failure
from edge.control.interlock import edge_refusal
from tests.commands.test_command_deadlines_http import sql
from tests.edge.conftest import Rig
from tests.edge_process import REFERENCE_MAPPING


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
    runner = rig.runner()
    # Its seconds left ran out on the edge's monotonic clock before the runner came to it.
    runner.handle(command, received=time.monotonic() - command["expires_in_s"] - 0.1)
    runner.stop()
    assert rig.commands_seen == []
    assert state(rig, command["id"])["result"]["detail"] == "expired before the edge could send it"


def readings(closed: bool, current: float, limit: float = 140.0) -> dict[str, float]:
    """A string's latest readings as the collector keeps them."""
    return {
        "contactor_closed": 1.0 if closed else 0.0,
        "current_a": current,
        "charge_limit_a": limit,
        "discharge_limit_a": limit,
    }


def test_the_edge_vetoes_on_what_it_sees() -> None:
    alone = {1: readings(True, 0.0), 2: readings(False, 0.0)}
    busy = {1: readings(True, 100.0), 2: readings(True, 100.0)}
    fine = {1: readings(True, 50.0), 2: readings(True, 50.0)}
    assert edge_refusal("isolate_string", 1, alone) == (
        "edge interlock: this is the last connected string"
    )
    assert edge_refusal("isolate_string", 1, busy) == (
        "edge interlock: 200 A of discharge current would exceed the remaining strings' 140 A"
    )
    assert edge_refusal("isolate_string", 1, fine) is None
    assert edge_refusal("derate", 1, alone) is None


def limits(closed: bool, current: float, *, charge: float, discharge: float) -> dict[str, float]:
    """A string's readings with different charge and discharge limits."""
    return {**readings(closed, current), "charge_limit_a": charge, "discharge_limit_a": discharge}


def test_the_edge_judges_positive_current_against_discharge_limits() -> None:
    # SunSpec's sign: +120 A is discharge, so string 2's 100 A discharge limit is what counts
    # (its 200 A charge limit would let the isolation through).
    discharging = {1: readings(True, 60.0), 2: limits(True, 60.0, charge=200, discharge=100)}
    assert edge_refusal("isolate_string", 1, discharging) == (
        "edge interlock: 120 A of discharge current would exceed the remaining strings' 100 A"
    )
    charging = {1: readings(True, -60.0), 2: limits(True, -60.0, charge=200, discharge=100)}
    assert edge_refusal("isolate_string", 1, charging) is None


def test_a_refused_poll_is_logged_in_one_line_with_the_backends_reason(rig: Rig) -> None:
    answer = httpx.get(f"{rig.server.url}{POLL_PATH}", headers={"Authorization": "Bearer nope"})
    with_body = httpx.HTTPStatusError("refused", request=answer.request, response=answer)
    proxy = httpx.Response(502, text="<html>bad gateway</html>", request=answer.request)
    without = httpx.HTTPStatusError("refused", request=proxy.request, response=proxy)

    assert poll_failure(with_body) == f"backend answered 401: {answer.json()['error']['message']}"
    assert poll_failure(without) == "backend answered 502: Bad Gateway"
    assert poll_failure(httpx.ConnectError("refused")) == "refused"


def sent_commands(rig: Rig, count: int) -> list[tuple[int, float, float]]:
    """(opcode, parameter, timeout) of the command frames seen on the bus, once `count` are."""
    deadline = time.monotonic() + 2
    while len(rig.commands_seen) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    message = rig.collector.decoder.protocol.message("CMD")
    decoded = [message.decode(m.data, decode_choices=False) for m in rig.commands_seen]
    return [(int(d["CmdOpcode"]), d["CmdParam"], d["CmdTimeout"]) for d in decoded]


def test_return_to_service_is_connect_then_a_derate_to_full_by_mapping() -> None:
    frames = load_protocol(REFERENCE_MAPPING).commands
    assert frames is not None
    assert frames.supports("return_string")
    assert frames.steps("return_string", param=0.0, timeout_s=0) == [
        Step("connect", 0.0, 0),
        Step("derate", 100.0, 0),
    ]
    # Kinds without steps are their own opcode, with the command's parameter and timeout.
    assert frames.steps("derate", param=30.0, timeout_s=600) == [Step("derate", 30.0, 600)]
    with pytest.raises(ValidationError, match="steps of return_string: no opcode named close"):
        CommandMapping.model_validate(
            {
                **frames.mapping.model_dump(),
                "steps": {"return_string": [{"opcode": "close"}]},
            }
        )


def test_returning_a_derated_string_lifts_its_derate(rig: Rig) -> None:
    string = rig.simulator.plant.strings[0]
    with rig.simulator.lock:  # derated to 30 % for 10 minutes, then isolated
        string.charge_limit_a = string.discharge_limit_a = 42.0
        string.derate_revert_at = time.time() + 600
        string.contactor_closed = False
    command = delivered(rig, kind="return_string", string=1)
    runner = rig.runner()
    runner.handle(command)
    runner.stop()
    # Connect (opcode 2), then derate (1) to 100 % with no revert timeout.
    assert sent_commands(rig, 2) == [(2, 0.0, 0.0), (1, 100.0, 0.0)]
    with rig.simulator.lock:
        limits = (string.charge_limit_a, string.discharge_limit_a)
        assert (string.contactor_closed, limits) == (True, (140.0, 140.0))
        assert string.derate_revert_at is None  # the 10-minute revert timer is gone too
    after = state(rig, command["id"])
    assert after["state"] == "verified", after
    assert after["result"]["verified_by"].startswith(
        "contactor closed, limits at rating (140 A charge, 140 A discharge)"
    )


def test_a_step_that_is_not_done_ends_the_command(rig: Rig) -> None:
    commands = rig.commander().frames
    # A protocol whose first step the BMS does not know: the second is never sent.
    steps = [CommandStep(opcode="preflight"), CommandStep(opcode="connect")]
    mapping = commands.mapping.model_copy(
        update={
            "opcodes": {**commands.mapping.opcodes, "preflight": 42},
            "steps": {"return_string": steps},
        }
    )
    commander = BusCommander(
        CommandFrames(commands.message, mapping), rig.collector, rig.commander().send
    )
    outcome = commander.carry_out(Order(77, "return_string", ((1, 0),), "maintenance"))
    assert outcome == Outcome("failed", "string 1: unsupported (preflight, step 1 of 2)")
    time.sleep(0.2)  # a second frame would be on the bus by now
    assert sent_commands(rig, 1) == [(42, 0.0, 0.0)]


def test_a_report_after_the_deadline_is_kept_as_late_and_not_sent_again(
    rig: Rig, test_database_url: str
) -> None:
    command = delivered(rig, kind="derate", string=1, pct=70)
    # The backend's deadline passes while the edge still has time on its own count.
    sql(test_database_url, "UPDATE command SET deadline_at = now() WHERE id = %s", command["id"])
    runner = rig.runner()
    runner.handle(command)
    assert sent_commands(rig, 1) == [(1, 70.0, 0.0)]  # carried out on the bus
    assert runner.journal.unreported() == []  # the 409 is final: no report loop
    runner.stop()
    after = state(rig, command["id"])
    assert after["state"] == "unknown"
    assert [r["outcome"] for r in after["result"]["late_reports"]] == ["acked"]


def test_the_system_is_not_read_as_a_string(rig: Rig) -> None:
    # The simulated BMS sends the whole system's frames too; they are no string 0 (which the
    # edge's policy would otherwise count as a closed string).
    deadline = time.monotonic() + 60
    assets = rig.collector.assembler.assets
    while not (SYSTEM_KEY in assets and (2, 0) in assets) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert SYSTEM_KEY in assets
    assert set(rig.commander().string_readings()) == {1, 2}
