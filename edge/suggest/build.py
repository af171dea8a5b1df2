"""The suggester's core: a database's messages in, a draft mapping out (no I/O)."""

from edge.bindings import MAX_FLAGS
from edge.model import FIELDS, Target
from edge.suggest.codes import flag_code
from edge.suggest.content import ArrayFamily, Content, Single, read_message
from edge.suggest.draft import Binding, Draft, DraftMessage, Flag, Part
from edge.suggest.layout import (
    MAX_MODULES,
    Split,
    cells_split,
    free_bits,
    id_part,
    temps_split,
)
from edge.suggest.rules import positive_direction
from edge.suggest.signals import DatabaseInfo


def build_draft(
    info: DatabaseInfo, *, name: str, database: str, catalogue: frozenset[str]
) -> Draft:
    """The draft mapping for a database (database: its path as the mapping will name it)."""
    contents = [read_message(m) for m in info.messages]
    splits = _splits(contents, info.comments)
    low_role = "module" if any(_needs_module_bits(c) for c in contents) else "string"
    free = free_bits(info.messages)
    taken: dict[tuple[Target, str], str] = {}
    flag_counts: dict[Target, int] = {}
    messages = []
    for content in contents:
        message = DraftMessage(content.message.name, content.target, strings=content.strings)
        message.fields = _array_bindings(content, splits) + _single_bindings(content, taken)
        message.flags = _flags(content, catalogue, flag_counts)
        message.unrecognised = list(content.leftovers)
        _address(message, content, free, low_role)
        messages.append(message)
    _one_fault_source(messages)
    notes = [f"The database says: {text}" for text in info.comments[:1]]
    return Draft(
        name,
        database,
        info.strict,
        notes,
        [m for m in messages if m.binds_anything],
        [m for m in messages if not m.fields and not m.flags],
        [m for m in messages if m.fields and not m.binds_anything],
    )


def _flags(content: Content, catalogue: frozenset[str], counts: dict[Target, int]) -> list[Flag]:
    """One-bit faults as flags, at most MAX_FLAGS per target (each takes a bit of its word)."""
    flags = []
    for signal in content.flags:
        counts[content.target] = counts.get(content.target, 0) + 1
        if counts[content.target] > MAX_FLAGS:
            content.leftovers.append(f"{signal.name} (more than {MAX_FLAGS} flags)")
        else:
            flags.append(Flag(signal.name, *flag_code(signal.name, catalogue)))
    return flags


def _is_flat(array: ArrayFamily) -> bool:
    """Numbered across the string: more members than a module has places."""
    return array.family.size > FIELDS[Target.MODULE][array.field].array_size


def _needs_module_bits(content: Content) -> bool:
    """A module message with no module number of its own (neither a signal nor flat numbers)."""
    return (
        content.target is Target.MODULE
        and content.module_signal is None
        and not (content.arrays and all(_is_flat(a) for a in content.arrays))
    )


def _splits(contents: list[Content], comments: tuple[str, ...]) -> dict[str, Split]:
    """Members per module for flat cell and temperature families (cells first)."""
    flat = {a.field: a.family.size for c in contents for a in c.arrays if _is_flat(a)}
    splits = {}
    if "cell_v" in flat:
        splits["cell_v"] = cells_split(flat["cell_v"], comments)
    if "temp_c" in flat:
        cells = splits.get("cell_v")
        modules = flat["cell_v"] // cells.per_module if cells else None
        splits["temp_c"] = temps_split(flat["temp_c"], modules, comments)
    return splits


def _array_bindings(content: Content, splits: dict[str, Split]) -> list[Binding]:
    """Cell and temperature families: per module, or flat across the string."""
    bindings = []
    for array in content.arrays:
        family = array.family
        if not family.contiguous:
            note = f"numbers {family.first}..{family.last} have gaps: bind the runs one by one"
            bindings.append(Binding(array.field, family.template(0), note=note, disabled=True))
        elif _is_flat(array):
            bindings.append(_flat_binding(array, splits[array.field]))
        else:
            bindings.append(_module_binding(array))
    return bindings


def _flat_binding(array: ArrayFamily, split: Split) -> Binding:
    """n counts from 0 over the string; the name's own start is the template's offset."""
    family, valid, per = array.family, array.valid, split.per_module
    note = (f"{family.size} numbered across the string from {family.first}: n counts from 0, "
            f"module = n // {per} + 1. {split.reason}")  # fmt: skip
    modules = (family.size - 1) // per + 1
    too_many = per > FIELDS[Target.MODULE][array.field].array_size or modules > MAX_MODULES
    if too_many:
        note = f"{family.size} members do not fit {MAX_MODULES} modules: split them by hand"
    return Binding(array.field, family.template(family.first),
                   valid.template(family.first) if valid else None, (0, family.size - 1), per,
                   note=note, disabled=too_many)  # fmt: skip


def _module_binding(array: ArrayFamily) -> Binding:
    """n is the position in the module from 1; the name's own start gives the offset."""
    family, valid = array.family, array.valid
    shift = family.first - 1
    note = (f"the database numbers from {family.first}; n is the position in the module from 1"
            + (f", hence n{shift:+d}" if shift else ""))  # fmt: skip
    return Binding(array.field, family.template(shift),
                   valid.template(shift) if valid else None, (1, family.size),
                   note=note)  # fmt: skip


def _single_bindings(content: Content, taken: dict[tuple[Target, str], str]) -> list[Binding]:
    bindings = []
    for single in content.singles:
        key = (content.target, single.field)
        where = f"{content.message.name}.{single.name}"
        if key in taken:
            bindings.append(
                Binding(
                    single.field,
                    single.name,
                    single.valid,
                    disabled=True,
                    note=f"also looks like {single.field}, already bound to {taken[key]}",
                )
            )
            continue
        taken[key] = where
        bindings.append(_single(single))
    return bindings


def _single(single: Single) -> Binding:
    if single.field == "fault_bits":
        return Binding(
            single.field,
            single.name,
            single.valid,
            note="TODO: name its bits "
            "under [faults.<target>] (bit = code) so events carry catalogue codes",
        )
    if single.field != "current_a":
        return Binding(single.field, single.name, single.valid)
    positive = positive_direction(single.signal)
    note = (
        "the database's comment says which way is positive"
        if positive
        else "GUESS: the database does not say which way is positive; check with a charge"
    )
    return Binding(
        single.field, single.name, single.valid, positive=positive or "discharge", note=note
    )


def _address(message: DraftMessage, content: Content, free: int, low_role: str) -> None:
    """The string and module address parts, each guess explained in a note."""
    if content.target is Target.MODULE and content.module_signal is not None:
        signal = content.module_signal
        zero = signal.minimum is not None and signal.minimum <= 0
        message.module = Part("signal", signal.name, offset=1 if zero else 0)
        if zero:
            message.notes.append(
                f"GUESS: {signal.name} starts at 0, taken as module 1 (offset = 1)"
            )
    elif _needs_module_bits(content):
        found = id_part(free, "module") if free >= 16 or low_role == "module" else None
        message.module = found[0] if found else Part("value", 1)
        message.notes.append(
            found[1]
            if found
            else "TODO: no module number found in the ids "
            "or signals; every frame is taken as module 1"
        )
    if message.strings is None:
        found = id_part(free, "string") if free >= 16 or low_role == "string" else None
        message.string = found[0] if found else Part("value", 1)
        message.notes.append(
            found[1] if found else "GUESS: one string (no string number in the ids or signals)"
        )
    message.notes[:] = list(dict.fromkeys(message.notes))


def _one_fault_source(messages: list[DraftMessage]) -> None:
    """A target's faults come from flags or a fault word: with flags, words are left out."""
    flagged = {m.target for m in messages if m.flags}
    for message in messages:
        if message.target in flagged:
            message.fields = [
                Binding(
                    b.field,
                    b.signal,
                    b.valid,
                    disabled=True,
                    note="this target has one-bit flags; a fault word too would clash",
                )
                if b.field == "fault_bits"
                else b
                for b in message.fields
            ]
