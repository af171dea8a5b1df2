"""Commands at the edge: long-poll the backend, check the edge interlocks, send, await the ACK.

The edge has the final veto: it checks the interlocks again against the telemetry it sees
itself, just before sending. Each command id is carried out at most once (see journal.py).
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from edge.assemble import Snapshot
from edge.collector import Ack, Collector
from edge.command_frames import ACK_DONE, CommandFrame, CommandFrames
from edge.journal import Journal

log = logging.getLogger("edge.commands")
POLL_PATH = "/api/v1/edge/commands"
POLL_WAIT_S = 20.0
ACK_TIMEOUT_S = 2.0
EVIDENCE_TIMEOUT_S = 1.5  # how long to wait for status frames newer than the ACK
# The values that show a command's effect, per target: string or module.
STRING_EVIDENCE = ("contactor_closed", "current_a", "charge_limit_a", "discharge_limit_a")
MODULE_EVIDENCE = ("bypassed",)
RETRY_S = 2.0
CURRENT_MARGIN_A = 1.0


def _value(snapshot: Snapshot, name: str, default: float = 0.0) -> float:
    return float(snapshot.values.get(name, default))


def edge_refusal(command: dict[str, Any], strings: dict[int, Snapshot]) -> str | None:
    """The edge's own interlock: never the last closed string, never overload the rest."""
    if command["kind"] != "isolate_string":
        return None
    closed = {n: s for n, s in strings.items() if _value(s, "contactor_closed") >= 0.5}
    remaining = [s for n, s in closed.items() if n != command["string"]]
    if not remaining:
        return "edge interlock: this is the last connected string"
    current = sum(_value(s, "current_a") for s in closed.values())
    limit = "charge_limit_a" if current >= 0 else "discharge_limit_a"
    capacity = sum(_value(s, limit, float("inf")) for s in remaining)
    if abs(current) > capacity - CURRENT_MARGIN_A:
        return (
            f"edge interlock: {abs(current):.0f} A would exceed the remaining strings' "
            f"{capacity:.0f} A"
        )
    return None


@dataclass
class CommandRunner:
    """Polls for commands and carries them out, one at a time, reporting each outcome."""

    frames: CommandFrames
    collector: Collector
    send: Callable[[CommandFrame], None]
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
                for command in response.json():
                    self.handle(command)
            except httpx.HTTPError as exc:
                log.warning("command channel: %s; retrying in %.0f s", exc, RETRY_S)
                self.stopping.wait(RETRY_S)

    def handle(self, command: dict[str, Any]) -> None:
        """Carry out one delivered command at most once, and report how it ended."""
        command_id = int(command["id"])
        entry = self.journal.get(command_id)
        if entry is not None and entry.outcome is None:
            self.journal.finish(command_id, "failed", "the edge restarted while carrying it out; "
                                "it was not repeated")  # fmt: skip
        elif entry is None:
            self._execute(command)
        self._report(command_id)

    def _execute(self, command: dict[str, Any]) -> None:
        command_id = int(command["id"])
        self.journal.start(command_id, time.time())
        expires = command.get("expires_at")
        if expires and datetime.fromisoformat(expires) <= datetime.now(UTC):
            self.journal.finish(command_id, "refused", "expired before the edge could send it")
            return
        if not self.frames.supports(command["kind"]):
            self.journal.finish(
                command_id, "refused", f"this BMS protocol has no {command['kind']}"
            )
            return
        refusal = edge_refusal(command, self.collector.latest_strings)
        if refusal is not None:
            log.warning("command %d refused: %s", command_id, refusal)
            self.journal.finish(command_id, "refused", refusal)
            return
        outcome, detail = self._send_and_await(command)
        log.info("command %d (%s): %s %s", command_id, command["kind"], outcome, detail)
        self.journal.finish(command_id, outcome, detail)

    def _targets(self, command: dict[str, Any]) -> list[tuple[int, int]]:
        if command["string"] is None:  # site-wide: every string
            return [(n, 0) for n in range(1, self.strings + 1)]
        return [(int(command["string"]), int(command["module"] or 0))]

    def _send_and_await(self, command: dict[str, Any]) -> tuple[str, str]:
        params = command.get("params") or {}
        param = float(params.get("pct", 1.0 if params.get("enabled") else 0.0))
        results = []
        for target in self._targets(command):
            frame = self.frames.frame(
                kind=command["kind"], command_id=int(command["id"]), target=target,
                reason=command["reason"], param=param,
                timeout_s=int(command.get("revert_after_s") or 0),
            )  # fmt: skip
            sent_at = time.time()
            self.send(frame)
            results.append((target, self._await_ack(frame, target, sent_at)))
        failed = [(t, r) for t, r in results if r is None or r.result != ACK_DONE]
        if not failed:
            acked_at = max(r.ts for _, r in results if r is not None)
            self.evidence[int(command["id"])] = self._observe([t for t, _ in results], acked_at)
            return "acked", ""
        (string, module), ack = failed[0]
        where = f"string {string}" + (f" module {module}" if module else "")
        if ack is None:
            return "failed", f"no acknowledgement from {where} within {ACK_TIMEOUT_S:g} s"
        return "failed", f"{where}: {self.frames.ack_meaning(ack.result)}"

    def _await_ack(self, frame: CommandFrame, target: tuple[int, int], since: float) -> Ack | None:
        deadline = time.monotonic() + ACK_TIMEOUT_S
        while time.monotonic() < deadline:
            for ack in list(self.collector.acks):
                # An older ACK that happens to share the 16-bit id does not count.
                same = (ack.command_id, ack.string, ack.module) == (frame.ack_id, *target)
                if same and ack.ts >= since - 1.0:
                    return ack
            time.sleep(0.005)
        return None

    def _observe(self, targets: list[tuple[int, int]], since: float) -> dict[str, dict[str, float]]:
        """The BMS's own status values for each target, read from frames newer than the ACK.

        They let the backend verify the effect now instead of at the next telemetry period.
        Targets without fresh frames in time are left out (verification then waits for them).
        """
        deadline = time.monotonic() + EVIDENCE_TIMEOUT_S
        seen: dict[str, dict[str, float]] = {}
        while len(seen) < len(targets) and time.monotonic() < deadline:
            for string, module in targets:
                names = MODULE_EVIDENCE if module else STRING_EVIDENCE
                state = self.collector.assembler.assets.get((string, module))
                if state is None:
                    continue
                values = {n: state.scalars[n] for n in names if state.scalar_at.get(n, 0) > since}
                if len(values) == len(names):
                    seen[f"{string}.{module}"] = values
            time.sleep(0.01)
        return seen

    def _report(self, command_id: int) -> None:
        entry = self.journal.get(command_id)
        if entry is None or entry.outcome is None:
            return
        at = datetime.now(UTC).isoformat()  # to the microsecond: lifecycle steps are sub-second
        body: dict[str, Any] = {"outcome": entry.outcome, "detail": entry.detail, "at": at}
        if command_id in self.evidence:
            body["evidence"] = self.evidence.pop(command_id)
        response = self.client.post(f"{POLL_PATH}/{command_id}/result", json=body)
        if response.status_code in (200, 404):  # 404: the backend no longer has it
            self.journal.reported(command_id)

    def _report_pending(self) -> None:
        for entry in self.journal.unreported():
            self._report(entry.id)

    def stop(self) -> None:
        """End the loop after the current poll."""
        self.stopping.set()
        self.client.close()
