"""The declarative mapping file: DBC messages and signals bound to the telemetry model.

A vendor's BMS is supported by its DBC plus one of these files, not by code. `resolve()` checks the
pair and produces the concrete signal table the decoder runs on.
"""

import tomllib
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge.model import Target

SIGNAL_TEMPLATE_HELP = "use {n} (or {n:02}) for the index, e.g. CellV_{n:02}"


class AddressPart(BaseModel):
    """Where a string or module number comes from: frame-id bits, a signal, or a constant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id_bits: tuple[int, int] | None = Field(default=None, description="(lsb, length) in the id")
    signal: str | None = None
    value: int | None = None
    offset: int = 0  # added to what was read, e.g. 1 for protocols that count from 0

    @model_validator(mode="after")
    def _exactly_one_source(self) -> Self:
        sources = [s for s in (self.id_bits, self.signal, self.value) if s is not None]
        if len(sources) != 1:
            raise ValueError("an address part needs exactly one of id_bits, signal or value")
        if self.id_bits and not (self.id_bits[0] >= 0 and 1 <= self.id_bits[1] <= 16):
            raise ValueError(f"id_bits {self.id_bits} must be (lsb >= 0, 1..16 bits)")
        return self


class Address(BaseModel):
    """The string and module a frame belongs to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    string: AddressPart | None = None
    module: AddressPart | None = None


class FieldBinding(BaseModel):
    """A signal (or a family of indexed signals) bound to a model field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    signal: str
    valid: str | None = None  # a 0/1 signal; 0 marks the value invalid
    index: tuple[int, int] | None = None  # inclusive range of {n} for array fields
    unit: str | None = None  # the unit the DBC is expected to state; checked, not converted
    # Which way this BMS counts a current as positive (required for currents); a vendor that
    # counts charge as positive is turned into the model's convention, SunSpec's: discharge.
    positive: Literal["discharge", "charge"] | None = None

    @model_validator(mode="after")
    def _index_matches_template(self) -> Self:
        templated = "{n" in self.signal
        if templated != (self.index is not None):
            raise ValueError(f"signal {self.signal!r}: give index together with {{n}}; "
                             + SIGNAL_TEMPLATE_HELP)  # fmt: skip
        if self.index and self.index[0] > self.index[1]:
            raise ValueError(f"index {self.index} is empty")
        return self


class MessageMapping(BaseModel):
    """How one DBC message maps onto the model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    target: Target
    address: Address = Address()
    fields: Annotated[list[FieldBinding], Field(min_length=1)]


class ProtocolInfo(BaseModel):
    """The protocol's name and DBC file (relative to the mapping file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    dbc: Path


class FaultNames(BaseModel):
    """Names of fault bits (bit number -> fault code), so events carry catalogue codes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    module: dict[int, str] = Field(default_factory=dict)
    string: dict[int, str] = Field(default_factory=dict)


class CommandSignals(BaseModel):
    """The command message's signals, by role."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    opcode: str
    reason: str | None = None
    param: str | None = None
    timeout: str | None = None


class CommandStep(BaseModel):
    """One frame of a command carried out as several: an opcode, with a fixed parameter or not."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    opcode: str  # a name in the opcodes table
    param: float | None = None  # None: the command's own parameter
    timeout: int | None = None  # revert timeout (s); None: the command's own, 0: never revert


class CommandMapping(BaseModel):
    """How degrade-not-trip commands are written as frames: one message, opcodes per kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message: str
    address: Address  # id_bits only: the frame id carries the target
    signals: CommandSignals
    # Opcode name -> code. A command kind is sent as the opcode of its own name, or as the
    # steps listed for it; kinds with neither are unsupported.
    opcodes: dict[str, int]
    steps: dict[str, Annotated[list[CommandStep], Field(min_length=1)]] = Field(
        default_factory=dict
    )
    reasons: dict[str, int] = Field(default_factory=dict)  # fault/maintenance/... -> code
    ack_results: dict[int, str] = Field(default_factory=dict)  # ACK result code -> meaning

    @model_validator(mode="after")
    def _steps_use_known_opcodes(self) -> Self:
        for kind, steps in self.steps.items():
            unknown = [step.opcode for step in steps if step.opcode not in self.opcodes]
            if unknown:
                raise ValueError(f"steps of {kind}: no opcode named {', '.join(unknown)}")
        return self


class MappingFile(BaseModel):
    """A whole mapping file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    protocol: ProtocolInfo
    message: Annotated[list[MessageMapping], Field(min_length=1)]
    faults: FaultNames = FaultNames()
    commands: CommandMapping | None = None


class MappingError(ValueError):
    """A mapping file or DBC that cannot be used; the message lists every problem found."""

    def __init__(self, source: Path, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def load_mapping_file(path: Path) -> MappingFile:
    """Parse and validate a mapping TOML file (structure only; see resolve for the DBC checks)."""
    try:
        return MappingFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise MappingError(path, [f"cannot read: {exc.strerror}"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(path, [f"not valid TOML: {exc}"]) from exc
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise MappingError(path, problems) from exc
