"""A DBC + mapping pair resolved into routes: frame id -> message, addresses, field bindings."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cantools
from cantools.database.errors import Error as CantoolsError

from edge.can.bindings import FlagBits, ResolvedField, resolve_binding, resolve_flag
from edge.can.command_frames import CommandFrames, resolve_commands
from edge.can.mapping import (
    AddressPart,
    MappingError,
    MappingFile,
    MessageMapping,
    load_mapping_file,
)
from edge.can.templates import expand
from edge.model import Target

__all__ = ["AddressReader", "Protocol", "ResolvedField", "Route", "load_protocol"]

ID_BITS = {False: 11, True: 29}
STRICT_HINT = (
    "if this is in messages the mapping does not use, set strict = false in [protocol] to load "
    "the database anyway (the messages you map are still checked)"
)


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
    """Load a mapping file and its database, check them against each other, and resolve routes."""
    mapping = load_mapping_file(mapping_path)
    dbc_path = (mapping_path.parent / mapping.protocol.dbc).resolve()
    database = load_database(mapping_path, dbc_path, strict=mapping.protocol.strict)
    problems: list[str] = []
    bits = FlagBits()
    resolved = [r for m in mapping.message for r in _resolve_entry(database, m, bits, problems)]
    _check_fault_sources(mapping, resolved, bits, problems)
    _check_overlaps(resolved, problems)
    commands = resolve_commands(database, mapping.commands, problems)
    if problems:
        raise MappingError(mapping_path, problems)
    table = {(r.id_mask, r.frame_id, r.extended): r for r in resolved}
    masks = tuple(dict.fromkeys((r.id_mask, r.extended) for r in resolved))
    faults = {
        Target.MODULE: mapping.faults.module | bits.names.get(Target.MODULE, {}),
        Target.STRING: mapping.faults.string | bits.names.get(Target.STRING, {}),
    }
    return Protocol(mapping.protocol.name, dbc_path, database, table, masks, faults, commands)


def load_database(mapping_path: Path, path: Path, *, strict: bool) -> Any:
    """A CAN database (DBC, KCD, SYM or ARXML) as cantools reads it; MappingError with a remedy."""
    try:
        database = cantools.database.load_file(path, strict=strict)
    except OSError as exc:
        problem = f"database {path}: cannot read: {exc.strerror} (dbc is relative to the mapping)"
        raise MappingError(mapping_path, [problem]) from exc
    except (CantoolsError, ValueError, KeyError, IndexError, UnicodeDecodeError) as exc:
        hint = f"; {STRICT_HINT}" if strict else ""
        raise MappingError(mapping_path, [f"database {path}: {exc}{hint}"]) from exc
    if not isinstance(database, cantools.database.can.Database):
        raise MappingError(
            mapping_path, [f"database {path}: not a CAN database ({type(database).__name__})"]
        )
    return database


def _resolve_entry(
    database: Any, mapping: MessageMapping, bits: FlagBits, problems: list[str]
) -> list[Route]:
    """The routes of one [[message]] entry: one per message, or per string or frame id."""
    strings: list[int | None] = (
        list(range(mapping.strings[0], mapping.strings[1] + 1)) if mapping.strings else [None]
    )
    if mapping.strings and mapping.address.string is not None:
        problems.append(
            f"message {mapping.name}: strings = {list(mapping.strings)} gives the "
            "string; drop address.string"
        )
    found: dict[str, tuple[Any, list[ResolvedField]]] = {}
    for string in strings:
        name = mapping.name if string is None else expand(mapping.name, s=string)
        if name not in found:
            message = _message(database, name, problems)
            if message is None:
                continue
            found[name] = (message, [])
        message, fields = found[name]
        fields += _resolve_fields(message, mapping, bits, string, problems)
    return [
        r for message, fields in found.values() for r in _routes(message, mapping, fields, problems)
    ]


def _message(database: Any, name: str, problems: list[str]) -> Any:
    try:
        return database.get_message_by_name(name)
    except KeyError:
        known = ", ".join(sorted(m.name for m in database.messages))
        problems.append(f"message {name!r} does not exist in the DBC (it has: {known})")
        return None


def _resolve_fields(
    message: Any,
    mapping: MessageMapping,
    bits: FlagBits,
    string: int | None,
    problems: list[str],
) -> list[ResolvedField]:
    fields = []
    for binding in mapping.fields:
        fields += resolve_binding(
            message, mapping.target, binding, string=string, problems=problems
        )
    for flag in mapping.flags:
        item = resolve_flag(message, mapping.target, flag, bits, string=string, problems=problems)
        if item is not None:
            fields.append(item)
    return fields


def _routes(
    message: Any, mapping: MessageMapping, fields: list[ResolvedField], problems: list[str]
) -> list[Route]:
    signal_names = {s.name for s in message.signals}
    string = _address_reader(mapping.address.string, message, signal_names, "string", problems)
    module = _address_reader(mapping.address.module, message, signal_names, "module", problems)
    _check_address_required(mapping, fields, problems)
    _check_bound_once(message.name, fields, problems)
    ranged = [p for p in (mapping.address.string, mapping.address.module) if p and p.id_range]
    if ranged:
        return _ranged_routes(
            message, mapping, ranged[0], fields, readers=(string, module), problems=problems
        )
    id_mask = _id_mask(message.is_extended_frame, mapping.address.string, mapping.address.module)
    if message.frame_id & ~id_mask:
        problems.append(
            f"message {message.name}: its DBC id {message.frame_id:#x} has bits set "
            "inside the address id_bits"
        )
    return [
        _route(
            message,
            target=mapping.target,
            frame_id=message.frame_id,
            id_mask=id_mask,
            readers=(string, module),
            fields=fields,
        )
    ]


def _route(
    message: Any,
    *,
    target: Target,
    frame_id: int,
    id_mask: int,
    readers: tuple[AddressReader | None, AddressReader | None],
    fields: list[ResolvedField],
) -> Route:
    return Route(
        message.name,
        frame_id,
        message.is_extended_frame,
        id_mask,
        target,
        message,
        message.length,
        readers[0],
        readers[1],
        tuple(fields),
        {f.signal: f for f in fields},
    )


def _ranged_routes(
    message: Any,
    mapping: MessageMapping,
    part: AddressPart,
    fields: list[ResolvedField],
    *,
    readers: tuple[AddressReader | None, AddressReader | None],
    problems: list[str],
) -> list[Route]:
    """One route per frame id of an id_range, its string or module number a constant."""
    assert part.id_range is not None
    first, last = part.id_range
    if not first <= message.frame_id <= last:
        problems.append(
            f"message {message.name}: its DBC id {message.frame_id:#x} is outside "
            f"id_range [{first:#x}, {last:#x}]"
        )
    full = (1 << ID_BITS[message.is_extended_frame]) - 1
    routes = []
    for number, frame_id in enumerate(range(first, last + 1), start=1):
        fixed = AddressReader(constant=number, offset=part.offset)
        pair = (fixed, readers[1]) if part is mapping.address.string else (readers[0], fixed)
        routes.append(
            _route(
                message,
                target=mapping.target,
                frame_id=frame_id,
                id_mask=full,
                readers=pair,
                fields=fields,
            )
        )
    return routes


def _address_reader(
    part: AddressPart | None, message: Any, signals: set[str], what: str, problems: list[str]
) -> AddressReader | None:
    if part is None or part.id_range is not None:
        return None
    if part.signal is not None and part.signal not in signals:
        problems.append(
            f"message {message.name}: {what} address signal {part.signal!r} "
            "does not exist in the message"
        )
    if part.id_bits is not None:
        lsb, length = part.id_bits
        if lsb + length > ID_BITS[message.is_extended_frame]:
            problems.append(
                f"message {message.name}: {what} id_bits {part.id_bits} exceed the "
                f"{ID_BITS[message.is_extended_frame]}-bit identifier"
            )
        return AddressReader(shift=lsb, mask=(1 << length) - 1, offset=part.offset)
    return AddressReader(signal=part.signal, constant=part.value, offset=part.offset)


def _check_address_required(
    mapping: MessageMapping, fields: list[ResolvedField], problems: list[str]
) -> None:
    """Module and string messages need an address for every value that does not carry one."""
    if mapping.target in (Target.ACK, Target.SYSTEM):
        return
    if mapping.address.string is None and any(f.string is None for f in fields):
        problems.append(
            f"message {mapping.name}: a {mapping.target} message needs address."
            "string (or strings = [first, last] with {s} in names)"
        )
    needs_module = any(f.module is None for f in fields)
    if mapping.target is Target.MODULE and mapping.address.module is None and needs_module:
        problems.append(
            f"message {mapping.name}: a module message needs address.module (or "
            "per_module = N for cells numbered across the string)"
        )


def _check_bound_once(name: str, fields: list[ResolvedField], problems: list[str]) -> None:
    seen: dict[str, str] = {}
    for field in fields:
        if field.signal in seen:
            problems.append(
                f"message {name}: signal {field.signal} is bound twice "
                f"({seen[field.signal]} and {field.label})"
            )
        seen[field.signal] = field.label


def _check_fault_sources(
    mapping: MappingFile, routes: list[Route], bits: FlagBits, problems: list[str]
) -> None:
    """A target's faults come from flags or from a fault word, never both (bits would clash)."""
    for target, named in (
        (Target.MODULE, mapping.faults.module),
        (Target.STRING, mapping.faults.string),
    ):
        if target not in bits.names:
            continue
        words = [
            f"{r.message}.{f.signal}"
            for r in routes
            if r.target is target
            for f in r.fields
            if f.field == "fault_bits" and f.bit is None
        ]
        if words or named:
            problems.append(
                f"{target} faults come from flags and from "
                f"{', '.join(words) or f'[faults.{target}]'}: use one or the other "
                "(flags name their own codes)"
            )


def _id_mask(extended: bool, *parts: AddressPart | None) -> int:
    mask = (1 << ID_BITS[extended]) - 1
    for part in parts:
        if part is not None and part.id_bits is not None:
            lsb, length = part.id_bits
            mask &= ~(((1 << length) - 1) << lsb)
    return mask


def _check_overlaps(routes: list[Route], problems: list[str]) -> None:
    seen_ids: dict[tuple[int, bool, int], str] = {}
    for route in routes:
        id_key = (route.frame_id, route.extended, route.id_mask)
        if id_key in seen_ids:
            problems.append(
                f"overlap: messages {seen_ids[id_key]} and {route.message} are mapped "
                f"to the same frame ids"
            )
        seen_ids[id_key] = route.message
    bound: dict[tuple[Target, int | None, str], str] = {}
    for route in routes:
        fixed = route.string.constant if route.string is not None else None
        for field in route.fields:
            key = (route.target, fixed, field.label)
            source = f"{route.message}.{field.signal}"
            if key in bound and bound[key] != source:
                problems.append(
                    f"overlap: {route.target}.{field.label} is bound by both "
                    f"{bound[key]} and {source}"
                )
            bound[key] = source
