"""Carrying a command out on the bus: one frame per target, the ACK, then the BMS's own status.

Shared by commands from the backend and actions of the local policy. One command is on the bus
at a time, so an ACK always answers the frame just sent.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from edge.can.assemble import SYSTEM_KEY
from edge.can.command_frames import ACK_DONE, CommandFrame, CommandFrames, Step
from edge.collector import Ack, Collector

ACK_TIMEOUT_S = 2.0
EVIDENCE_TIMEOUT_S = 1.5  # how long to wait for status frames newer than the ACK
# The values that show a command's effect, per target: string or module.
STRING_EVIDENCE = ("contactor_closed", "current_a", "charge_limit_a", "discharge_limit_a")
MODULE_EVIDENCE = ("bypassed",)
Target = tuple[int, int]  # (string, module); module 0 for the string itself


@dataclass(frozen=True, slots=True)
class Order:
    """One command to carry out: what, where, and the id its ACKs will echo."""

    command_id: int
    kind: str  # an opcode name, or a kind with steps, of the protocol's [commands] section
    targets: tuple[Target, ...]
    reason: str
    param: float = 0.0
    timeout_s: int = 0


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an order ended; evidence is the BMS's status read after the ACK, per "s.m"."""

    outcome: str  # acked | failed | refused
    detail: str = ""
    acked_at: float | None = None
    evidence: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class BusCommander:
    """Sends orders as CAN frames and reads their acknowledgement and effect."""

    frames: CommandFrames
    collector: Collector
    send: Callable[[CommandFrame], None]
    lock: threading.Lock = field(default_factory=threading.Lock)

    def string_readings(self) -> dict[int, dict[str, float]]:
        """Each string's latest readings, as fresh as the last frame (not the last period)."""
        assets = self.collector.assembler.assets
        return {
            s: dict(state.scalars)
            for (s, m), state in list(assets.items())
            if m == 0 and (s, m) != SYSTEM_KEY
        }

    def readings(self, string: int, module: int) -> dict[str, float]:
        """One module's (or, with module 0, one string's) latest readings; empty if unheard."""
        state = self.collector.assembler.assets.get((string, module))
        return {} if state is None else dict(state.scalars)

    def carry_out(self, order: Order) -> Outcome:
        """Send each step of the order to every target and wait for each ACK, then read the fresh
        status. A step not acknowledged as done ends the order: later steps are not sent."""
        steps = self.frames.steps(order.kind, param=order.param, timeout_s=order.timeout_s)
        acked_at = 0.0
        with self.lock:
            used: list[Ack] = []  # a step's ACK must not count again for the next step
            for number, step in enumerate(steps, 1):
                acks = [(target, self._send(order, step, target, used)) for target in order.targets]
                label = f" ({step.opcode}, step {number} of {len(steps)})" if len(steps) > 1 else ""
                failed = self._failure(acks, label)
                if failed is not None:
                    return failed
                used += [ack for _, ack in acks if ack is not None]
                acked_at = max(a.ts for _, a in acks if a is not None)
        return Outcome("acked", "", acked_at, self._observe(order.targets, acked_at))

    def _failure(self, acks: list[tuple[Target, Ack | None]], step: str) -> Outcome | None:
        """The failed outcome when any target did not acknowledge the step as done."""
        failed = [(t, a) for t, a in acks if a is None or a.result != ACK_DONE]
        if not failed:
            return None
        (string, module), ack = failed[0]
        where = f"string {string}" + (f" module {module}" if module else "")
        if ack is None:
            return Outcome(
                "failed", f"no acknowledgement from {where} within {ACK_TIMEOUT_S:g} s{step}"
            )
        return Outcome("failed", f"{where}: {self.frames.ack_meaning(ack.result)}{step}")

    def _send(self, order: Order, step: Step, target: Target, used: list[Ack]) -> Ack | None:
        frame = self.frames.frame(
            opcode=step.opcode,
            command_id=order.command_id,
            target=target,
            reason=order.reason,
            param=step.param,
            timeout_s=step.timeout_s,
        )
        sent_at = time.time()
        self.send(frame)
        return self._await_ack(frame, target, sent_at, used)

    def _await_ack(
        self, frame: CommandFrame, target: Target, since: float, used: list[Ack]
    ) -> Ack | None:
        deadline = time.monotonic() + ACK_TIMEOUT_S
        while time.monotonic() < deadline:
            for ack in list(self.collector.acks):
                # An older ACK that happens to share the 16-bit id does not count.
                same = (ack.command_id, ack.string, ack.module) == (frame.ack_id, *target)
                if same and ack.ts >= since - 1.0 and not any(ack is u for u in used):
                    return ack
            time.sleep(0.002)
        return None

    def _observe(self, targets: tuple[Target, ...], since: float) -> dict[str, dict[str, float]]:
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
            time.sleep(0.005)
        return seen
