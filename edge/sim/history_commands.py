"""Commands in a generated history: real command frames handed straight to the simulated BMS.

The backfill runs the edge's own policy (PolicyRunner) in simulated time; this commander takes
the place of the bus. Each step is the frame the protocol's [commands] section describes, the
BMS answers it as on the bus, and its ACK says whether it was done.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge.can.command_frames import ACK_DONE, CommandFrames
from edge.control.bus_commands import MODULE_EVIDENCE, STRING_EVIDENCE, Order, Outcome
from edge.sim.bms import SimBms
from edge.sim.snapshots import string_values

ACK_AFTER_S = 0.1  # the BMS's answer follows the frame by a bus round trip or so


@dataclass
class HistoryCommander:
    """Carries orders out on the simulated BMS, at the history's simulated time."""

    frames: CommandFrames
    bms: SimBms
    ack_message: Any  # the protocol's ACK message (cantools)
    clock: Callable[[], float]

    def string_readings(self) -> dict[int, dict[str, float]]:
        """Each string's readings now."""
        return {s.index: string_values(s) for s in self.bms.plant.strings}

    def readings(self, string: int, module: int) -> dict[str, float]:
        """A string's readings (module 0), or a module's bypass state."""
        if module == 0:
            return self.string_readings().get(string, {})
        found = [
            m
            for s in self.bms.plant.strings
            if s.index == string
            for m in s.modules
            if m.position == module
        ]
        return {"bypassed": float(found[0].bypassed)} if found else {}

    def carry_out(self, order: Order) -> Outcome:
        """Send every step to every target; the first step not done ends the order."""
        steps = self.frames.steps(order.kind, param=order.param, timeout_s=order.timeout_s)
        for step in steps:
            for target in order.targets:
                frame = self.frames.frame(
                    opcode=step.opcode,
                    command_id=order.command_id,
                    target=target,
                    reason=order.reason,
                    param=step.param,
                    timeout_s=step.timeout_s,
                )
                answer = self.bms.handle_command(frame.frame_id, frame.data, self.clock())
                result = int(
                    self.ack_message.decode(answer[0].data, decode_choices=False)["AckResult"]
                )
                if result != ACK_DONE:
                    where = f"string {target[0]}" + (f" module {target[1]}" if target[1] else "")
                    return Outcome("failed", f"{where}: {self.frames.ack_meaning(result)}")
        return Outcome("acked", "", self.clock() + ACK_AFTER_S, self._evidence(order.targets))

    def _evidence(self, targets: tuple[tuple[int, int], ...]) -> dict[str, dict[str, float]]:
        """The BMS's status after the ACK, as the edge reads it from the next frames."""
        evidence = {}
        for string, module in targets:
            values = self.readings(string, module)
            names = MODULE_EVIDENCE if module else STRING_EVIDENCE
            evidence[f"{string}.{module}"] = {n: values[n] for n in names if n in values}
        return evidence
