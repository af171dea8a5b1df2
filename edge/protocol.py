"""A DBC + mapping pair resolved into routes: frame id -> message, addresses, field bindings."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cantools
from cantools.database.errors import Error as CantoolsError

from edge.codec import decimals
from edge.command_frames import CommandFrames, resolve_commands
from edge.mapping import (
    AddressPart,
    FieldBinding,
    MappingError,
    MessageMapping,
    load_mapping_file,
)
from edge.model import FIELDS, FieldSpec, Kind, Target, canonical_unit, unit_factor

ID_BITS = {False: 11, True: 29}


@dataclass(frozen=True, slots=True)
class ResolvedField:
    """One concrete signal bound to one model field (and array index)."""

    field: str
    index: int | None  # 0-based position in an array field
    signal: str
    valid: str | None
    factor: float  # unit conversion into the model's unit, negative to flip a vendor's sign
    unit: str
    low: float
    high: float
    decimals: int  # rounding that removes float noise from scaling (-1: none)

    @property
    def label(self) -> str:
        """The field as people write it: cell_v[3] for the fourth cell."""
        return self.field if self.index is None else f"{self.field}[{self.index}]"


@dataclass(frozen=True, slots=True)
class AddressReader:
    """Reads a string or module number from the frame id, a signal, or a constant."""

    shift: int = 0
    mask: int = 0
    signal: str | None = None
    constant: int | None = None
    offset: int = 0

    def read(self, frame_id: int, values: dict[str, float]) -> int:
        """The address; a missing signal reads as -1 (rejected as a bad address)."""
        if self.constant is not None:
            return self.constant + self.offset
        if self.signal is not None:
            raw = values.get(self.signal)
            return -1 if raw is None else int(raw) + self.offset
        return ((frame_id >> self.shift) & self.mask) + self.offset


@dataclass(frozen=True, slots=True)
class Route:
    """Everything needed to turn one message's frames into model values."""

    message: str
    frame_id: int
    extended: bool
    id_mask: int
    target: Target
    message_def: Any  # the cantools message
    length: int
    string: AddressReader | None
    module: AddressReader | None
    fields: tuple[ResolvedField, ...]
    by_signal: dict[str, ResolvedField]


@dataclass(frozen=True)
class Protocol:
    """A resolved protocol: look up a frame's route by id."""

    name: str
    dbc_path: Path
    database: Any
    routes: dict[tuple[int, int, bool], Route]  # (id mask, masked id, extended)
    masks: tuple[tuple[int, bool], ...]
    fault_names: dict[Target, dict[int, str]]
    commands: CommandFrames | None = None  # None: this protocol cannot carry commands

    def route_for(self, frame_id: int, extended: bool) -> Route | None:
        """The route whose id matches this frame once its own address bits are masked out."""
        for mask, mask_extended in self.masks:
            if mask_extended == extended:
                route = self.routes.get((mask, frame_id & mask, extended))
                if route is not None:
                    return route
        return None

    def message(self, name: str) -> Any:
        """A cantools message by name (for encoding commands and simulated frames)."""
        return self.database.get_message_by_name(name)


def load_protocol(mapping_path: Path) -> Protocol:
    """Load a mapping file and its DBC, check them against each other, and resolve routes."""
    mapping = load_mapping_file(mapping_path)
    dbc_path = (mapping_path.parent / mapping.protocol.dbc).resolve()
    try:
        database = cantools.database.load_file(dbc_path, strict=True)
    except (OSError, CantoolsError, ValueError) as exc:
        raise MappingError(mapping_path, [f"DBC {dbc_path}: {exc}"]) from exc
    problems: list[str] = []
    routes = [_resolve_message(database, m, problems) for m in mapping.message]
    resolved = [r for r in routes if r is not None]
    _check_overlaps(resolved, problems)
    commands = resolve_commands(database, mapping.commands, problems)
    if problems:
        raise MappingError(mapping_path, problems)
    table = {(r.id_mask, r.frame_id, r.extended): r for r in resolved}
    masks = tuple(dict.fromkeys((r.id_mask, r.extended) for r in resolved))
    faults = {Target.MODULE: mapping.faults.module, Target.STRING: mapping.faults.string}
    return Protocol(mapping.protocol.name, dbc_path, database, table, masks, faults, commands)


def _resolve_message(database: Any, mapping: MessageMapping, problems: list[str]) -> Route | None:
    try:
        message = database.get_message_by_name(mapping.name)
    except KeyError:
        known = ", ".join(sorted(m.name for m in database.messages))
        problems.append(f"message {mapping.name!r} does not exist in the DBC (it has: {known})")
        return None
    signal_names = {s.name for s in message.signals}
    string = _address_reader(mapping.address.string, message, signal_names, "string", problems)
    module = _address_reader(mapping.address.module, message, signal_names, "module", problems)
    _check_address_required(mapping, problems)
    id_mask = _id_mask(message.is_extended_frame, mapping.address.string, mapping.address.module)
    if message.frame_id & ~id_mask:
        problems.append(f"message {mapping.name}: its DBC id {message.frame_id:#x} has bits set "
                        "inside the address id_bits")  # fmt: skip
    fields = [
        resolved
        for binding in mapping.fields
        for resolved in _resolve_binding(message, mapping.target, binding, problems)
    ]
    return Route(mapping.name, message.frame_id, message.is_extended_frame, id_mask,
                 mapping.target, message, message.length, string, module, tuple(fields),
                 {f.signal: f for f in fields})  # fmt: skip


def _address_reader(
    part: AddressPart | None, message: Any, signals: set[str], what: str, problems: list[str]
) -> AddressReader | None:
    if part is None:
        return None
    if part.signal is not None and part.signal not in signals:
        problems.append(f"message {message.name}: {what} address signal {part.signal!r} "
                        "does not exist in the message")  # fmt: skip
    if part.id_bits is not None:
        lsb, length = part.id_bits
        if lsb + length > ID_BITS[message.is_extended_frame]:
            problems.append(f"message {message.name}: {what} id_bits {part.id_bits} exceed the "
                            f"{ID_BITS[message.is_extended_frame]}-bit identifier")  # fmt: skip
        return AddressReader(shift=lsb, mask=(1 << length) - 1, offset=part.offset)
    return AddressReader(signal=part.signal, constant=part.value, offset=part.offset)


def _check_address_required(mapping: MessageMapping, problems: list[str]) -> None:
    needs = {Target.MODULE: ("string", "module"), Target.STRING: ("string",), Target.ACK: ()}
    for part in needs[mapping.target]:
        if getattr(mapping.address, part) is None:
            problems.append(f"message {mapping.name}: a {mapping.target} message needs "
                            f"address.{part}")  # fmt: skip


def _id_mask(extended: bool, *parts: AddressPart | None) -> int:
    mask = (1 << ID_BITS[extended]) - 1
    for part in parts:
        if part is not None and part.id_bits is not None:
            lsb, length = part.id_bits
            mask &= ~(((1 << length) - 1) << lsb)
    return mask


def _resolve_binding(
    message: Any, target: Target, binding: FieldBinding, problems: list[str]
) -> list[ResolvedField]:
    spec = FIELDS[target].get(binding.field)
    where = f"message {message.name}, field {binding.field!r}"
    if spec is None:
        known = ", ".join(FIELDS[target])
        problems.append(f"{where}: not a {target} field (fields: {known})")
        return []
    if (spec.array_size > 0) != (binding.index is not None):
        kind = "an array: give index = [first, last]" if spec.array_size else "not an array"
        problems.append(f"{where}: the field is {kind}")
        return []
    sign = _sign(spec, binding, where, problems)
    numbers = range(binding.index[0], binding.index[1] + 1) if binding.index else [None]
    resolved = []
    for n in numbers:
        if n is not None and not 1 <= n <= spec.array_size:
            problems.append(f"{where}: index {n} is outside 1..{spec.array_size}")
            continue
        # Resolved even without a sign, so that every other problem is listed too.
        item = _resolve_one(message, spec, binding, n=n, sign=sign or 1, where=where,
                            problems=problems)  # fmt: skip
        if item is not None:
            resolved.append(item)
    return resolved if sign is not None else []


def _resolve_one(
    message: Any, spec: FieldSpec, binding: FieldBinding, *, n: int | None, sign: int, where: str,
    problems: list[str],
) -> ResolvedField | None:  # fmt: skip
    name = binding.signal.format(n=n) if n is not None else binding.signal
    valid = binding.valid.format(n=n) if binding.valid and n is not None else binding.valid
    signals = {s.name: s for s in message.signals}
    missing = [s for s in (name, valid) if s is not None and s not in signals]
    for signal in missing:
        problems.append(f"{where}: signal {signal!r} does not exist in message {message.name}")
    if missing:
        return None
    factor = _unit_factor(spec, binding, signals[name].unit, f"{where}, signal {name}", problems)
    if factor is None:
        return None
    factor *= sign
    signal = signals[name]
    # Integer signals carry as many decimals as their scale; IEEE-float signals are not rounded.
    places = (
        -1
        if signal.is_float
        else decimals(float(signal.scale) * factor, float(signal.offset) * factor)
    )
    return ResolvedField(binding.field, None if n is None else n - 1, name, valid, factor,
                         canonical_unit(signal.unit), spec.low, spec.high, places)  # fmt: skip


def _unit_factor(
    spec: FieldSpec, binding: FieldBinding, dbc_unit: str | None, where: str, problems: list[str]
) -> float | None:
    unit = canonical_unit(dbc_unit)
    if binding.unit is not None and canonical_unit(binding.unit) != unit:
        problems.append(f"{where}: unit mismatch: the mapping expects {binding.unit!r}, the DBC "
                        f"says {unit!r}")  # fmt: skip
        return None
    if spec.kind is not Kind.MEASURE:
        if unit:
            problems.append(f"{where}: unit mismatch: the field is dimensionless, the DBC says "
                            f"{unit!r}")  # fmt: skip
            return None
        return 1.0
    factor = unit_factor(unit, spec.unit)
    if factor is None:
        problems.append(f"{where}: unit mismatch: the DBC says {unit!r}, the field needs "
                        f"{spec.unit!r} (no known conversion)")  # fmt: skip
    return factor


def _sign(spec: FieldSpec, binding: FieldBinding, where: str, problems: list[str]) -> int | None:
    """-1 when the BMS counts charge as positive (the model counts discharge), else 1."""
    if binding.positive is not None and not spec.directed:
        problems.append(f"{where}: positive applies to currents only; this field has no "
                        "direction")  # fmt: skip
        return None
    # A current read the wrong way round looks plausible everywhere, so it is never assumed.
    if binding.positive is None and spec.directed:
        problems.append(f"{where}: say which way the BMS counts this current as positive: "
                        'positive = "discharge" (SunSpec, as the model) or "charge"')  # fmt: skip
        return None
    return -1 if binding.positive == "charge" else 1


def _check_overlaps(routes: list[Route], problems: list[str]) -> None:
    seen_ids: dict[tuple[int, bool, int], str] = {}
    for route in routes:
        id_key = (route.frame_id, route.extended, route.id_mask)
        if id_key in seen_ids:
            problems.append(f"overlap: messages {seen_ids[id_key]} and {route.message} are mapped "
                            f"to the same frame ids")  # fmt: skip
        seen_ids[id_key] = route.message
    bound: dict[tuple[Target, str], str] = {}
    for route in routes:
        for field in route.fields:
            key = (route.target, field.label)
            source = f"{route.message}.{field.signal}"
            if key in bound:
                problems.append(f"overlap: {route.target}.{field.label} is bound by both "
                                f"{bound[key]} and {source}")  # fmt: skip
            bound[key] = source
