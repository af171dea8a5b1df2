"""Degrade-not-trip commands as CAN frames, from the mapping file's [commands] section.

Which message, which signals and which opcodes are data (vendor neutral); this module only
checks them against the DBC once and then builds frames.
"""

from dataclasses import dataclass
from typing import Any

from edge.can.codec import encode
from edge.can.mapping import AddressPart, CommandMapping

ACK_DONE = 0
CMD_ID_MASK = 0xFFFF  # the reference protocol echoes 16 bits of the command id


@dataclass(frozen=True, slots=True)
class CommandFrame:
    """One frame to send, and the id its acknowledgement will carry."""

    frame_id: int
    data: bytes
    extended: bool
    ack_id: int


@dataclass(frozen=True, slots=True)
class Step:
    """One frame's worth of a command: the opcode, its parameter and its revert timeout."""

    opcode: str
    param: float
    timeout_s: int


@dataclass(frozen=True)
class CommandFrames:
    """Builds command frames for one protocol."""

    message: Any
    mapping: CommandMapping

    def supports(self, kind: str) -> bool:
        """Whether this protocol can carry out the command kind (an opcode, or steps)."""
        return kind in self.mapping.steps or kind in self.mapping.opcodes

    def steps(self, kind: str, *, param: float, timeout_s: int) -> list[Step]:
        """The frames a command kind takes, in order: the steps the mapping lists for it, or
        else the one opcode of its name; a step's own parameter and timeout win."""
        listed = self.mapping.steps.get(kind)
        if listed is None:
            return [Step(kind, param, timeout_s)]
        return [
            Step(
                step.opcode,
                param if step.param is None else step.param,
                timeout_s if step.timeout is None else step.timeout,
            )
            for step in listed
        ]

    def ack_meaning(self, result: int) -> str:
        """An ACK result code in words."""
        return self.mapping.ack_results.get(result, f"result code {result}")

    def frame(
        self,
        *,
        opcode: str,
        command_id: int,
        target: tuple[int, int],  # (string, module); module 0 for a string-level command
        reason: str,
        param: float = 0.0,
        timeout_s: int = 0,
    ) -> CommandFrame:
        """The frame that carries one command to one string or module."""
        signals = self.mapping.signals
        values: dict[str, float] = {
            signals.id: command_id & CMD_ID_MASK,
            signals.opcode: self.mapping.opcodes[opcode],
        }
        optional = {
            signals.reason: self.mapping.reasons.get(reason, 0),
            signals.param: param,
            signals.timeout: timeout_s,
        }
        values.update({name: value for name, value in optional.items() if name is not None})
        string, module = target
        frame_id = (
            self.message.frame_id
            | _id_part(self.mapping.address.string, string)
            | _id_part(self.mapping.address.module, module)
        )
        return CommandFrame(
            frame_id,
            encode(self.message, values),
            self.message.is_extended_frame,
            command_id & CMD_ID_MASK,
        )


def _id_part(part: AddressPart | None, number: int) -> int:
    if part is None or part.id_bits is None:
        return 0
    lsb, length = part.id_bits
    return ((number - part.offset) & ((1 << length) - 1)) << lsb


def resolve_commands(
    database: Any, mapping: CommandMapping | None, problems: list[str]
) -> CommandFrames | None:
    """Check the [commands] section against the DBC; None when the protocol has none."""
    if mapping is None:
        return None
    try:
        message = database.get_message_by_name(mapping.message)
    except KeyError:
        problems.append(f"commands: message {mapping.message!r} does not exist in the DBC")
        return None
    names = {signal.name for signal in message.signals}
    for role, name in mapping.signals.model_dump().items():
        if name is not None and name not in names:
            problems.append(f"commands: {role} signal {name!r} is not in message {mapping.message}")
    for role, part in (("string", mapping.address.string), ("module", mapping.address.module)):
        if part is not None and part.id_bits is None:
            problems.append(f"commands: the {role} address must come from id_bits")
    return CommandFrames(message, mapping)
