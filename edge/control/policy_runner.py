"""Carries out the local policy's actions on the bus and reports them to the backend.

Each action is journaled before its frame is sent, so a restart never repeats it, and kept
until the backend has recorded it, so a link that is down loses none.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from edge.control.bus_commands import Order, Outcome
from edge.control.interlock import edge_refusal
from edge.control.journal import ActionEntry, Journal
from edge.control.policy import Action, Policy, iso

log = logging.getLogger("edge.control.policy")
RECORD_PATH = "/api/v1/edge/policy-actions"
RETRY_S = 2.0
# Policy actions are numbered locally; their CAN command ids sit in the upper half of the
# 16-bit id space the ACK echoes.
POLICY_ID_BASE = 0x8000
LIMIT_TOLERANCE_A = 0.5


class Commander(Protocol):
    """What carries actions out: the bus (BusCommander), or the backfill's simulated BMS."""

    def string_readings(self) -> dict[int, dict[str, float]]:
        """Each string's latest readings."""
        ...

    def readings(self, string: int, module: int) -> dict[str, float]:
        """One module's (module 0: one string's) latest readings."""
        ...

    def carry_out(self, order: Order) -> Outcome:
        """Send the order and report how it ended."""
        ...


@dataclass
class PolicyRunner:
    """Takes decisions from the collector thread and carries them out in its own."""

    policy: Policy
    commander: Commander
    journal: Journal
    client: httpx.Client | None  # None: nobody to report to (a bench or a test)
    edge_id: str
    strings: int
    string_rated_a: float
    # The time an action is sent at; the backfill runs the policy in simulated time.
    clock: Callable[[], float] = field(default_factory=lambda: time.time)

    def __post_init__(self) -> None:
        self.stopping = threading.Event()
        self.actions: queue.Queue[Action] = queue.Queue()
        if failed := self.journal.fail_interrupted_actions():
            log.warning(
                "%d policy action(s) were interrupted by a restart; reported failed", failed
            )

    def observe(self, events: list[Any]) -> None:
        """The assembler's listener: decide now, act in the runner's thread."""
        for action in self.policy.on_events(events):
            self.actions.put(action)

    def run(self) -> None:
        """Act on decisions as they come; report to the backend whenever it can be reached."""
        while not self.stopping.is_set():
            try:
                action = self.actions.get(timeout=RETRY_S)
            except queue.Empty:
                pass
            else:
                self._execute_logged(action)
            self.report_pending()

    def _execute_logged(self, action: Action) -> None:
        # One action going wrong must not end the policy for every later condition.
        try:
            self.execute(action)
        except Exception:
            log.exception("policy: %s failed", action.describe())

    def execute(self, action: Action) -> None:
        """Carry out one action, unless its effect is already there."""
        readings = self.commander.string_readings()
        if self._already_done(action, readings):
            log.info("policy: %s; already in effect", action.describe())
            return
        record = {**action.record(), "sent_at": iso(self.clock())}
        number = self.journal.start_action(record)
        refusal = edge_refusal(action.kind, action.string, readings)
        if refusal is not None:
            log.warning("policy: %s refused: %s", action.describe(), refusal)
            self.journal.finish_action(number, outcome="refused", detail=refusal)
            return
        try:
            outcome = self.commander.carry_out(self._order(number, action, readings))
        except Exception as exc:
            self.journal.finish_action(number, outcome="failed", detail=f"edge error: {exc}")
            raise
        log.warning("policy: %s: %s %s", action.describe(), outcome.outcome, outcome.detail)
        self.journal.finish_action(
            number,
            outcome=outcome.outcome,
            detail=outcome.detail,
            acked_at=outcome.acked_at,
            evidence=outcome.evidence,
        )

    def _already_done(self, action: Action, readings: dict[int, dict[str, float]]) -> bool:
        closed = {n for n, r in readings.items() if r.get("contactor_closed", 1.0) >= 0.5}
        if action.kind == "trip":
            return not closed
        if action.kind == "isolate_module":
            module = self.commander.readings(action.string or 0, action.module or 0)
            return module.get("bypassed", 0.0) >= 0.5
        if action.string in readings and action.string not in closed:
            return True  # the string is open already: isolated, and no use derating it
        if action.kind == "derate" and action.pct is not None:
            ours = readings.get(action.string or 0, {})
            limit = self.string_rated_a * action.pct / 100 + LIMIT_TOLERANCE_A
            return all(
                ours.get(n, limit + 1) <= limit for n in ("charge_limit_a", "discharge_limit_a")
            )
        return False

    def _order(self, number: int, action: Action, readings: dict[int, dict[str, float]]) -> Order:
        command_id = POLICY_ID_BASE | (number & 0x7FFF)
        if action.kind == "trip":
            closed = sorted(n for n, r in readings.items() if r.get("contactor_closed", 0) >= 0.5)
            targets = tuple((n, 0) for n in closed or range(1, self.strings + 1))
            return Order(command_id, "isolate_string", targets, reason="fault")
        target = ((action.string or 0, action.module or 0),)
        if action.kind == "derate":
            return Order(
                command_id,
                "derate",
                target,
                reason="fault",
                param=action.pct or 0.0,
                timeout_s=action.revert_after_s or 0,
            )
        return Order(command_id, action.kind, target, reason="fault")

    def report_pending(self) -> None:
        """Tell the backend of every finished action it has not recorded yet."""
        if self.client is None:
            return
        for entry in self.journal.unreported_actions():
            try:
                response = self.client.post(RECORD_PATH, json=self._body(entry))
            except httpx.HTTPError as exc:
                log.info("policy actions wait for the backend: %s", exc)
                return
            if response.status_code in (200, 201):
                self.journal.action_reported(entry.number)
            elif response.status_code in (404, 409, 422):
                # The backend will never take this record; say so loudly instead of retrying.
                log.error(
                    "backend refused policy action %d: %s %s",
                    entry.number,
                    response.status_code,
                    response.text,
                )
                self.journal.action_reported(entry.number)
            else:
                return

    def _body(self, entry: ActionEntry) -> dict[str, Any]:
        acked = None if entry.acked_at is None else iso(entry.acked_at)
        return {
            **entry.action,
            "ref": f"{self.edge_id}:{entry.number}",
            "outcome": entry.outcome,
            "detail": entry.detail,
            "acked_at": acked,
            "evidence": entry.evidence,
            "reported_at": datetime.now(UTC).isoformat(),
        }

    def stop(self) -> None:
        """End the loop."""
        self.stopping.set()
