"""Commands at the edge: long-poll the backend, check the edge interlocks, send, await the ACK.

The edge has the final veto: it checks the interlocks again against the telemetry it sees
itself, just before sending. Each command id is carried out at most once (see journal.py).

Expiry comes as the seconds left (expires_in_s, on the backend's clock when it answered); the
edge turns it into a deadline on its own monotonic clock the moment the answer arrives, so a
wall clock that is off (or steps) cannot make a stale command look fresh.
"""

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from edge.control.bus_commands import BusCommander, Order
from edge.control.interlock import edge_refusal
from edge.control.journal import INTERRUPTED, Journal

log = logging.getLogger("edge.control.commands")
POLL_PATH = "/api/v1/edge/commands"
POLL_WAIT_S = 20.0
RETRY_S = 2.0
EXPIRED = "expired before the edge could send it"


def poll_failure(exc: httpx.HTTPError) -> str:
    """One line on a failed poll: the status and the backend's own message when it gave one."""
    if not isinstance(exc, httpx.HTTPStatusError):
        return str(exc)
    response = exc.response
    try:
        message = str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = response.reason_phrase  # not the API's error body (a proxy, say)
    return f"backend answered {response.status_code}: {message}"


@dataclass
class CommandRunner:
    """Polls for commands and carries them out, one at a time, reporting each outcome."""

    commander: BusCommander
    journal: Journal
    client: httpx.Client
    strings: int  # the site's string count, for site-wide commands

    def __post_init__(self) -> None:
        self.stopping = threading.Event()
        self.evidence: dict[int, dict[str, dict[str, float]]] = {}  # until reported

    @classmethod
    def connect(cls, *, base_url: str, token: str, **parts: Any) -> "CommandRunner":
        """A runner with its own HTTP client for the backend."""
        client = httpx.Client(
            base_url=base_url,
            timeout=POLL_WAIT_S + 10,
            headers={"Authorization": f"Bearer {token}"},
        )
        return cls(client=client, **parts)

    def run(self) -> None:
        """Poll and execute until stopped; back off while the backend is away."""
        while not self.stopping.is_set():
            try:
                self._report_pending()
                response = self.client.get(POLL_PATH, params={"wait": POLL_WAIT_S})
                response.raise_for_status()
                received = time.monotonic()
                for command in response.json():
                    self.handle(command, received=received)
            except httpx.HTTPError as exc:
                log.warning("command channel: %s; retrying in %.0f s", poll_failure(exc), RETRY_S)
                self.stopping.wait(RETRY_S)

    def handle(self, command: dict[str, Any], *, received: float | None = None) -> None:
        """Carry out one delivered command at most once, and report how it ended.

        `received` is the monotonic time its poll answer arrived (default: now).
        """
        command_id = int(command["id"])
        deadline = (time.monotonic() if received is None else received) + float(
            command.get("expires_in_s") or 0.0
        )
        entry = self.journal.get(command_id)
        if entry is not None and entry.outcome is None:
            self.journal.finish(command_id, "failed", INTERRUPTED)
        elif entry is None:
            self._execute(command, deadline)
        self._report(command_id)

    def _execute(self, command: dict[str, Any], deadline: float) -> None:
        command_id = int(command["id"])
        self.journal.start(command_id, time.time())
        if time.monotonic() >= deadline:
            self.journal.finish(command_id, "refused", EXPIRED)
            return
        if not self.commander.frames.supports(command["kind"]):
            self.journal.finish(
                command_id, "refused", f"this BMS protocol has no {command['kind']}"
            )
            return
        readings = self.commander.string_readings()
        refusal = edge_refusal(command["kind"], command["string"], readings)
        if refusal is not None:
            log.warning("command %d refused: %s", command_id, refusal)
            self.journal.finish(command_id, "refused", refusal)
            return
        outcome = self.commander.carry_out(self._order(command))
        log.info(
            "command %d (%s): %s %s", command_id, command["kind"], outcome.outcome, outcome.detail
        )
        if outcome.evidence:
            self.evidence[command_id] = outcome.evidence
        self.journal.finish(command_id, outcome.outcome, outcome.detail)

    def _order(self, command: dict[str, Any]) -> Order:
        if command["string"] is None:  # site-wide: every string
            targets = tuple((n, 0) for n in range(1, self.strings + 1))
        else:
            targets = ((int(command["string"]), int(command["module"] or 0)),)
        params = command.get("params") or {}
        return Order(
            command_id=int(command["id"]),
            kind=command["kind"],
            targets=targets,
            reason=command["reason"],
            param=float(params.get("pct", 1.0 if params.get("enabled") else 0.0)),
            timeout_s=int(command.get("revert_after_s") or 0),
        )

    def _report(self, command_id: int) -> None:
        entry = self.journal.get(command_id)
        if entry is None or entry.outcome is None:
            return
        at = datetime.now(UTC).isoformat()  # to the microsecond: lifecycle steps are sub-second
        body: dict[str, Any] = {"outcome": entry.outcome, "detail": entry.detail, "at": at}
        if command_id in self.evidence:
            body["evidence"] = self.evidence.pop(command_id)
        response = self.client.post(f"{POLL_PATH}/{command_id}/result", json=body)
        if response.status_code == 409:  # too late, or not ours: kept as late, never applied
            log.warning(
                "command %d: %s",
                command_id,
                poll_failure(
                    httpx.HTTPStatusError(
                        "report refused", request=response.request, response=response
                    )
                ),
            )
        if response.status_code in (200, 404, 409):  # 404: the backend no longer has it
            self.journal.reported(command_id)

    def _report_pending(self) -> None:
        for entry in self.journal.unreported():
            self._report(entry.id)

    def stop(self) -> None:
        """End the loop after the current poll."""
        self.stopping.set()
        self.client.close()
