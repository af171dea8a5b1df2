"""The declarative mapping file: DBC messages and signals bound to the telemetry model.

A vendor's BMS is supported by its DBC plus one of these files, not by code. `resolve()` checks the
pair and produces the concrete signal table the decoder runs on.
"""

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge.can.templates import HELP as SIGNAL_TEMPLATE_HELP
from edge.can.templates import variables
from edge.model import Target

SITE_FILE_HINT = (
    "this is a site file (it has [site] and mapping = ...); check-config reads it and the mapping "
    "it names, the edge's run/replay take it as --config, and a [protocol] section belongs in "
    "the mapping file"
)


class AddressPart(BaseModel):
    """Where a string or module number comes from: frame-id bits, a signal, or a constant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id_bits: tuple[int, int] | None = Field(default=None, description="(lsb, length) in the id")
    # Consecutive frame ids, one per string or module: the first id is number 1.
    id_range: tuple[int, int] | None = None
    signal: str | None = None
    value: int | None = None
    offset: int = 0  # added to what was read, e.g. 1 for protocols that count from 0

    @model_validator(mode="after")
    def _exactly_one_source(self) -> Self:
        given = (self.id_bits, self.id_range, self.signal, self.value)
        if len([s for s in given if s is not None]) != 1:
            raise ValueError(
                "an address part needs exactly one of id_bits, id_range, signal or value"
            )
        if self.id_bits and not (self.id_bits[0] >= 0 and 1 <= self.id_bits[1] <= 16):
            raise ValueError(f"id_bits {self.id_bits} must be (lsb >= 0, 1..16 bits)")
        if self.id_range and not 0 <= self.id_range[1] - self.id_range[0] < 64:
            raise ValueError(f"id_range {self.id_range} must be [first, last] with 1..64 ids")
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
    # Flat numbering across a string: n counts from 0 over every cell (or sensor) of the string,
    # and module = n // per_module + 1, position = n % per_module + 1.
    per_module: int | None = Field(default=None, ge=1, le=64)
    unit: str | None = None  # the unit the DBC is expected to state; checked, not converted
    # Which way this BMS counts a current as positive (required for currents); a vendor that
    # counts charge as positive is turned into the model's convention, SunSpec's: discharge.
    positive: Literal["discharge", "charge"] | None = None

    @model_validator(mode="after")
    def _index_matches_template(self) -> Self:
        templated = "n" in variables(self.signal)
        if self.valid is not None and "n" in variables(self.valid) and not templated:
            raise ValueError(f"valid {self.valid!r} uses {{n}} but signal {self.signal!r} does not")
        if templated != (self.index is not None):
            raise ValueError(
                f"signal {self.signal!r}: give index together with {{n}}; " + SIGNAL_TEMPLATE_HELP
            )
        if self.index and self.index[0] > self.index[1]:
            raise ValueError(f"index {self.index} is empty")
        if self.per_module is not None and self.index is None:
            raise ValueError("per_module (flat numbering) needs index = [first, last]")
        return self


class FlagBinding(BaseModel):
    """A one-bit fault flag: the signal is 1 while the named fault is active."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signal: str
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")

    @model_validator(mode="after")
    def _template_is_valid(self) -> Self:
        variables(self.signal)
        return self


class MessageMapping(BaseModel):
    """How one DBC message maps onto the model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    target: Target
    address: Address = Address()
    fields: list[FieldBinding] = Field(default_factory=list)
    flags: list[FlagBinding] = Field(default_factory=list)  # one-bit faults, one code each
    # Several strings described by one entry: {s} in the name (one message per string) or in
    # the signal names (one message whose multiplexer selects the string).
    strings: tuple[int, int] | None = None

    @model_validator(mode="after")
    def _binds_something(self) -> Self:
        if not self.fields and not self.flags:
            raise ValueError(f"message {self.name!r} binds nothing: give fields or flags")
        uses_s = "s" in variables(self.name) or any(
            "s" in variables(text)
            for text in [b.signal for b in self.fields] + [f.signal for f in self.flags]
        )
        if uses_s != (self.strings is not None):
            raise ValueError(
                f"message {self.name!r}: give strings = [first, last] together with "
                "{s} in the message or signal names"
            )
        if self.strings and not 1 <= self.strings[0] <= self.strings[1] <= 31:
            raise ValueError(f"strings {self.strings} must be within 1..31")
        if self.target is Target.SYSTEM:
            _check_system_message(self)
        return self


def _check_system_message(mapping: MessageMapping) -> None:
    """A system message describes the one battery of the site: nothing addresses it."""
    where = f"message {mapping.name!r}: a system message"
    if mapping.address != Address() or mapping.strings is not None:
        raise ValueError(
            f"{where} describes the whole battery; drop address and strings "
            '(map per-string values with target = "string")'
        )
    if mapping.flags:
        raise ValueError(f"{where} has no fault flags; map them on a string or module message")


class ProtocolInfo(BaseModel):
    """The protocol's name and database file (relative to the mapping file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    dbc: Path  # .dbc, .kcd, .sym or .arxml: any database cantools reads
    # false: load a database whose unused messages have overlapping or oversized signals.
    strict: bool = True


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


def read_toml(path: Path) -> dict[str, object]:
    """A TOML file's content; MappingError naming the file if it cannot be read or parsed."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingError(path, [f"cannot read: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        raise MappingError(
            path, [f"not a text file ({exc.reason}); give the mapping .toml, which names the DBC"]
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(path, [f"not valid TOML: {exc}"]) from exc


def is_site_file(content: dict[str, object]) -> bool:
    """Whether parsed TOML is a site file rather than a mapping."""
    return "site" in content and "mapping" in content and "protocol" not in content


def load_mapping_file(path: Path) -> MappingFile:
    """Parse and validate a mapping TOML file (structure only; see resolve for the DBC checks)."""
    content = read_toml(path)
    if is_site_file(content):
        raise MappingError(path, [SITE_FILE_HINT])
    try:
        return MappingFile.model_validate(content)
    except ValidationError as exc:
        problems = [_problem_text(e) for e in exc.errors()]
        raise MappingError(path, problems) from exc


def _problem_text(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
