"""The draft mapping as data: what the suggester decided, and what it could not."""

from dataclasses import dataclass, field

from edge.model import Target


@dataclass(frozen=True, slots=True)
class Part:
    """Where a string or module number comes from (as in the mapping's address)."""

    source: str  # "id_bits", "signal" or "value"
    value: str | int | tuple[int, int]
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Binding:
    """One `fields` entry; a disabled one is written commented out, its note saying why."""

    field: str
    signal: str
    valid: str | None = None
    index: tuple[int, int] | None = None
    per_module: int | None = None
    positive: str | None = None
    note: str = ""
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class Flag:
    """One `flags` entry."""

    signal: str
    code: str
    catalogued: bool


@dataclass
class DraftMessage:
    """One [[message]] entry of the draft."""

    name: str
    target: Target
    fields: list[Binding] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    string: Part | None = None
    module: Part | None = None
    strings: tuple[int, int] | None = None
    notes: list[str] = field(default_factory=list)  # comments above the entry
    unrecognised: list[str] = field(default_factory=list)

    @property
    def binds_anything(self) -> bool:
        """Whether the entry has an active field or flag (else it is left out)."""
        return bool(self.flags) or any(not b.disabled for b in self.fields)


@dataclass
class Draft:
    """A whole draft mapping."""

    name: str
    database: str  # the database path as the mapping file names it
    strict: bool
    notes: list[str]
    messages: list[DraftMessage]
    unmapped: list[DraftMessage]  # messages nothing was recognised in
    # Messages whose every binding is disabled (e.g. a field bound elsewhere already): written
    # commented out, for a person to choose.
    set_aside: list[DraftMessage] = field(default_factory=list)
