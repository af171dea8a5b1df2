"""Numbered signal families (Cell_000, Cell_001 ...) and the templates that name them."""

import re
from dataclasses import dataclass

from edge.suggest.signals import SignalInfo

NUMBERED = re.compile(r"^(.*?)(\d+)(\D*)$")  # prefix, number, suffix: CellVoltage_017_Valid
# One signal per string: S1_PackVoltage, Str2_SoC, Rack1Current.
STRING_NUMBERED = re.compile(r"^((?:s|str|string|rack))(\d+)(_?[a-z].*)$", re.IGNORECASE)
VALID_SUFFIX = re.compile(r"^_?(ok|valid|vld|validity)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Family:
    """Signals that differ only in a number: prefix + number + suffix."""

    prefix: str
    suffix: str
    members: dict[int, SignalInfo]
    width: int | None  # zero-padded to this many digits, or None
    regular: bool = True  # every name is its number written with this width (a template fits)

    @property
    def first(self) -> int:
        """The lowest number (0 for zero-based names)."""
        return min(self.members)

    @property
    def last(self) -> int:
        """The highest number."""
        return max(self.members)

    @property
    def size(self) -> int:
        """How many members there are."""
        return len(self.members)

    @property
    def contiguous(self) -> bool:
        """Whether every number from first to last is present."""
        return self.size == self.last - self.first + 1

    @property
    def sample(self) -> SignalInfo:
        """The first member (for its unit and range)."""
        return self.members[self.first]

    def template(self, shift: int, var: str = "n") -> str:
        """The signal-name template: number = var + shift, in this family's digits."""
        expr = var + (f"+{shift}" if shift > 0 else f"-{-shift}" if shift < 0 else "")
        spec = f":0{self.width}" if self.width else ""
        return f"{self.prefix}{{{expr}{spec}}}{self.suffix}"


def group_families(signals: list[SignalInfo]) -> tuple[list[Family], list[SignalInfo]]:
    """Families of two or more numbered signals, and every signal in none."""
    groups: dict[tuple[str, str], dict[int, tuple[str, SignalInfo]]] = {}
    for signal in signals:
        match = NUMBERED.match(signal.name)
        if match and not signal.is_multiplexer:
            prefix, digits, suffix = match.groups()
            groups.setdefault((prefix, suffix), {})[int(digits)] = (digits, signal)
    families, grouped = [], set()
    for (prefix, suffix), members in groups.items():
        if len(members) < 2:
            continue
        width = _width([d for d, _ in members.values()])
        regular = all(d == format(n, f"0{width}" if width else "") for n, (d, _) in members.items())
        families.append(
            Family(prefix, suffix, {n: s for n, (_, s) in members.items()}, width, regular)
        )
        grouped |= {s.name for _, s in members.values()}
    singles = [s for s in signals if s.name not in grouped]
    return sorted(families, key=lambda f: (f.prefix, f.suffix)), singles


def _width(digits: list[str]) -> int | None:
    """The zero-padding of a family's numbers (Cell_007 … Cell_120: 3), None if unpadded."""
    padded = [d for d in digits if d.startswith("0") and len(d) > 1]
    return min(len(d) for d in digits) if padded else None


def validity_of(family: Family, families: list[Family]) -> Family | None:
    """The family of 1-bit validity flags that goes with this one (CellV_01 -> CellV_01_Ok)."""
    for other in families:
        if other is family or other.prefix != family.prefix:
            continue
        if not other.suffix.startswith(family.suffix):
            continue
        extra = other.suffix[len(family.suffix) :]
        one_bit = all(s.length == 1 for s in other.members.values())
        if VALID_SUFFIX.match(extra) and set(other.members) == set(family.members) and one_bit:
            return other
    return None


def single_validity(name: str, signals: list[SignalInfo]) -> SignalInfo | None:
    """The 1-bit validity signal of a single signal (ModSoC -> ModSoC_Ok), if there is one."""
    for signal in signals:
        extra = signal.name.removeprefix(name)
        if extra != signal.name and signal.length == 1 and VALID_SUFFIX.match(extra):
            return signal
    return None


def is_validity(signal: SignalInfo) -> bool:
    """Whether a signal is named as a validity flag (…_Ok, …_Valid)."""
    match = re.search(r"_(ok|valid|vld|validity)$", signal.name, re.IGNORECASE)
    return signal.length == 1 and match is not None
