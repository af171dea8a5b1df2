"""What one message carries: cell and temperature families, single values, flags, addresses."""

import re
from dataclasses import dataclass, field

from edge.model import Target, canonical_unit, unit_factor
from edge.suggest.families import (
    STRING_NUMBERED,
    Family,
    group_families,
    is_validity,
    single_validity,
    validity_of,
)
from edge.suggest.rules import FLAG_MESSAGE, field_for, is_flag
from edge.suggest.signals import MessageInfo, SignalInfo

MODULE_ADDRESS = re.compile(
    r"^(mod|module|bmu|cmu|slave)_?(addr|address|id|idx|index|no|nr|"
    r"num|number)$",
    re.IGNORECASE,
)
MODULE_MESSAGE = re.compile(r"mod|bmu|cmu|cell|slave", re.IGNORECASE)
# The BMS master's whole-battery values (one per site): SYS_STATUS, PackStatus, BMS_Master.
SYSTEM_MESSAGE = re.compile(r"(^|_)(sys|system|pack|master)(_|[A-Z]|$)", re.IGNORECASE)
# Voltage families that are not cells even when small (module, pack, string sums).
CELL_NAME = re.compile(r"cell", re.IGNORECASE)
NOT_CELL_NAME = re.compile(r"mod|pack|str|bat|sum|tot|rack", re.IGNORECASE)
TEMP_NAME = re.compile(r"temp|therm|ntc", re.IGNORECASE)
FLAG_PREFIX = re.compile(r"^(flag|flg|flt|alm|err)_", re.IGNORECASE)
MAX_CELL_V = 10.0  # above this a "voltage" family is module or pack voltages, not cells
MAX_STRINGS = 31  # the mapping's strings = [first, last] limit


@dataclass(frozen=True, slots=True)
class ArrayFamily:
    """A family bound to an array field (cell_v or temp_c), with its validity family."""

    field: str
    family: Family
    valid: Family | None


@dataclass(frozen=True, slots=True)
class Single:
    """A single signal (or one per string, `name` then a {s} template) bound to a field."""

    field: str
    signal: SignalInfo
    name: str
    valid: str | None = None


@dataclass
class Content:
    """A message's recognised content, before addresses are decided."""

    message: MessageInfo
    target: Target
    arrays: list[ArrayFamily] = field(default_factory=list)
    singles: list[Single] = field(default_factory=list)
    flags: list[SignalInfo] = field(default_factory=list)
    module_signal: SignalInfo | None = None
    strings: tuple[int, int] | None = None  # strings named per string (S1_, S2_ ...), from 1
    leftovers: list[str] = field(default_factory=list)


def array_field(family: Family) -> str | None:
    """cell_v for a family of cell voltages, temp_c for temperatures, else None."""
    sample = family.sample
    unit = canonical_unit(sample.unit)
    volts = unit_factor(unit, "V")
    if volts is not None and unit and not NOT_CELL_NAME.search(family.prefix):
        top = (sample.maximum or 0) * volts
        return "cell_v" if top <= MAX_CELL_V else None
    # Without a unit the edge cannot convert (nor tell mV from V): see unitless_hint.
    return "temp_c" if unit == "degC" else None


def unitless_hint(family: Family) -> str | None:
    """What to do about a family that looks like cells or temperatures but has no unit."""
    if family.sample.unit or family.sample.length == 1:
        return None
    if TEMP_NAME.search(family.prefix) or CELL_NAME.search(family.prefix):
        return (
            f"{family.template(0)} ({family.first}..{family.last}) has no unit in the "
            "database: give its signals one (mV, V, degC) and run suggest-mapping again"
        )
    return None


def read_message(message: MessageInfo) -> Content:
    """Sort a message's signals into what the mapping can bind and what is left over."""
    signals = [s for s in message.signals if not s.is_multiplexer]
    per_string, strings, signals = _per_string(signals)
    families, singles = group_families(signals)
    arrays, used = _arrays(families)
    module_signal = next((s for s in singles if MODULE_ADDRESS.match(s.name)), None)
    is_module = bool(arrays) or module_signal is not None or MODULE_MESSAGE.search(message.name)
    is_system = not is_module and not per_string and SYSTEM_MESSAGE.search(message.name)
    content = Content(
        message,
        Target.MODULE if is_module else Target.SYSTEM if is_system else Target.STRING,
        arrays,
        module_signal=module_signal,
        strings=strings,
    )
    # Members of a family that is not cells or temperatures are not single values either
    # (but numbered one-bit signals may be fault flags: Fault_01 .. Fault_50).
    unused = [s for f in families if f.prefix + f.suffix not in used for s in f.members.values()]
    hints = [h for f in families if f.prefix + f.suffix not in used if (h := unitless_hint(f))]
    content.leftovers = hints + [s.name for s in unused if s.length > 1]
    leftovers = [s for s in singles if s is not module_signal] + [
        s for s in unused if s.length == 1
    ]
    _singles(content, per_string, leftovers)
    return content


def _per_string(
    signals: list[SignalInfo],
) -> tuple[list[tuple[str, SignalInfo]], tuple[int, int] | None, list[SignalInfo]]:
    """Signals named per string (S1_PackVoltage): ({s} template, a member), strings, the rest.

    Names counted from 0 (S0_, S1_) get {s-1}, so that strings still count from 1."""
    groups: dict[tuple[str, str], dict[int, SignalInfo]] = {}
    for signal in signals:
        match = STRING_NUMBERED.match(signal.name)
        if match:
            key = (match.group(1), match.group(3))
            groups.setdefault(key, {})[int(match.group(2))] = signal
    numbers = sorted({n for members in groups.values() for n in members})
    if len(numbers) < 2 or numbers[-1] + (numbers[0] == 0) > MAX_STRINGS:
        return [], None, signals
    shift = "{s-1}" if numbers[0] == 0 else "{s}"
    grouped = {s.name for members in groups.values() for s in members.values()}
    first = [
        (head + shift + tail, members[min(members)]) for (head, tail), members in groups.items()
    ]
    strings = (numbers[0] + 1, numbers[-1] + 1) if numbers[0] == 0 else (numbers[0], numbers[-1])
    return first, strings, [s for s in signals if s.name not in grouped]


def _arrays(families: list[Family]) -> tuple[list[ArrayFamily], set[str]]:
    """Cell and temperature families with their validity families; the names of those used."""
    validities = {id(v): v for f in families if (v := validity_of(f, families)) is not None}
    arrays, used = [], set()
    for family in families:
        kind = array_field(family)
        if kind is None or id(family) in validities or family.sample.length == 1:
            continue
        valid = validity_of(family, families)
        arrays.append(ArrayFamily(kind, family, valid))
        used.add(family.prefix + family.suffix)
        if valid is not None:
            used.add(valid.prefix + valid.suffix)
    return arrays, used


def _singles(
    content: Content, per_string: list[tuple[str, SignalInfo]], leftovers: list[SignalInfo]
) -> None:
    """Bind single signals by the rule table; one-bit faults become flags."""
    target, name = content.target, content.message.name
    for template, signal in per_string:
        found = field_for(signal, target, name=re.sub(r"\{s(-1)?\}", "", template))
        if found is None:
            content.leftovers.append(template)
        else:
            content.singles.append(Single(found, signal, template))
    validity = [s for s in leftovers if is_validity(s)]
    for signal in leftovers:
        # In a message of flags every one-bit signal is a fault (a welded contactor too).
        found = None if _flag_first(signal, name) else field_for(signal, target)
        valid = single_validity(signal.name, validity)
        if found is not None:
            content.singles.append(
                Single(found, signal, signal.name, valid.name if valid else None)
            )
        elif is_flag(signal, name) and not is_validity(signal):
            content.flags.append(signal)
        elif not (is_validity(signal) and _validates_something(signal, leftovers)):
            content.leftovers.append(signal.name)


def _validates_something(signal: SignalInfo, signals: list[SignalInfo]) -> bool:
    return any(single_validity(s.name, [signal]) for s in signals if s is not signal)


def _flag_first(signal: SignalInfo, message: str) -> bool:
    return signal.length == 1 and bool(
        FLAG_MESSAGE.search(message) or FLAG_PREFIX.match(signal.name)
    )
