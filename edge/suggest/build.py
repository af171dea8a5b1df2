"""The suggester's core: a database's messages in, a draft mapping out (no I/O)."""

from edge.can.bindings import MAX_FLAGS
from edge.model import Target
from edge.suggest.arrays import Arrays, array_bindings, survey
from edge.suggest.codes import flag_code
from edge.suggest.content import Content, Single, read_message
from edge.suggest.draft import Binding, Draft, DraftMessage, Flag, Part
from edge.suggest.layout import free_bits, id_part
from edge.suggest.rules import positive_direction
from edge.suggest.signals import DatabaseInfo


def build_draft(
    info: DatabaseInfo, *, name: str, database: str, catalogue: frozenset[str]
) -> Draft:
    """The draft mapping for a database (database: its path as the mapping will name it)."""
    contents = [read_message(m) for m in info.messages]
    arrays = survey(contents, info.comments)
    low_role = "module" if any(_needs_module_bits(c, arrays) for c in contents) else "string"
    free = free_bits(info.messages)
    taken: dict[tuple[Target, str], str] = {}
    flag_codes: dict[tuple[Target, str], str] = {}
    messages = []
    for content in contents:
        message = DraftMessage(content.message.name, content.target, strings=content.strings)
        message.fields = array_bindings(content, arrays) + _single_bindings(content, taken)
        message.flags = _flags(content, catalogue, flag_codes)
        message.unrecognised = list(content.leftovers)
        _address(message, content, free, low_role, arrays)
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


def _flags(
    content: Content, catalogue: frozenset[str], codes: dict[tuple[Target, str], str]
) -> list[Flag]:
    """One-bit faults as flags: each code once per target, at most MAX_FLAGS codes per target."""
    flags = []
    for signal in content.flags:
        code, catalogued = flag_code(signal.name, catalogue)
        key, where = (content.target, code), f"{content.message.name}.{signal.name}"
        if key in codes:
            content.leftovers.append(f"{signal.name} (its code {code} is {codes[key]}'s)")
        elif sum(target is content.target for target, _ in codes) >= MAX_FLAGS:
            content.leftovers.append(f"{signal.name} (more than {MAX_FLAGS} flags)")
        else:
            codes[key] = where
            flags.append(Flag(signal.name, code, catalogued))
    return flags


def _needs_module_bits(content: Content, arrays: Arrays) -> bool:
    """A module message with no module number of its own (neither a signal nor flat numbers)."""
    return (
        content.target is Target.MODULE
        and content.module_signal is None
        and not (content.arrays and all(arrays.is_flat(a) for a in content.arrays))
    )


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


def _address(
    message: DraftMessage, content: Content, free: int, low_role: str, arrays: Arrays
) -> None:
    """The string and module address parts, each guess explained in a note."""
    if content.target is Target.SYSTEM:
        return  # one system per site: its messages carry no address
    if content.target is Target.MODULE and content.module_signal is not None:
        signal = content.module_signal
        zero = signal.minimum is not None and signal.minimum <= 0
        message.module = Part("signal", signal.name, offset=1 if zero else 0)
        if zero:
            message.notes.append(
                f"GUESS: {signal.name} starts at 0, taken as module 1 (offset = 1)"
            )
    elif _needs_module_bits(content, arrays):
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
