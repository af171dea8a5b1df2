"""A draft mapping written as TOML in the mapping format, with its guesses as comments."""

import json

from edge.suggest.draft import Binding, Draft, DraftMessage, Flag, Part

HEADER = (
    "# Draft mapping written by `python -m edge suggest-mapping` from {source}.\n"
    "# Read every GUESS and TODO below, correct what is wrong, then run\n"
    "#   python -m edge check-config THIS_FILE\n"
    "# and replay a recording with --dry-run (docs/INTEGRATING.md)."
)


def render(draft: Draft) -> str:
    """The whole draft as a mapping file."""
    lines = [HEADER.format(source=draft.database)]
    lines += [_comment(note) for note in draft.notes]
    lines += ["", "[protocol]", f"name = {_quote(draft.name)}", f"dbc = {_quote(draft.database)}"]
    if not draft.strict:
        lines.append(
            "strict = false  # cantools loads this database only non-strictly "
            "(overlapping or oversized signals)"
        )
    for message in draft.messages:
        lines += ["", *_message(message)]
    for message in draft.set_aside:
        lines += [
            "",
            _comment(
                f"{message.name}: every binding below is taken elsewhere; uncomment what you choose"
            ),
            *["# " + line for line in _message(message)],
        ]
    if draft.unmapped:
        lines += [
            "",
            "# Nothing recognised in these messages (map them by hand if the model has "
            "a place for them):",
        ]
        lines += [
            _comment(f"{m.name}: " + (", ".join(m.unrecognised) or "no signals"))
            for m in draft.unmapped
        ]
    return "\n".join(lines) + "\n"


def _message(message: DraftMessage) -> list[str]:
    lines = [_comment(n) for n in message.notes]
    lines += ["[[message]]", f"name = {_quote(message.name)}", f'target = "{message.target}"']
    address = ", ".join(
        f"{role} = {_part(part)}"
        for role, part in (("string", message.string), ("module", message.module))
        if part
    )
    if address:
        lines.append(f"address = {{ {address} }}")
    if message.strings:
        lines.append(f"strings = [{message.strings[0]}, {message.strings[1]}]")
    if message.fields:
        lines += ["fields = [", *[line for b in message.fields for line in _binding(b)], "]"]
    if message.flags:
        lines += ["flags = [", *[_flag(f) for f in message.flags], "]"]
    if message.unrecognised:
        lines.append(_comment(f"Not recognised: {', '.join(message.unrecognised)}"))
    return lines


def _part(part: Part) -> str:
    value = part.value
    text = (
        f"[{value[0]}, {value[1]}]"
        if isinstance(value, tuple)
        else (_quote(value) if isinstance(value, str) else str(value))
    )
    offset = f", offset = {part.offset}" if part.offset else ""
    return f"{{ {part.source} = {text}{offset} }}"


def _binding(binding: Binding) -> list[str]:
    items = [f"field = {_quote(binding.field)}", f"signal = {_quote(binding.signal)}"]
    if binding.valid:
        items.append(f"valid = {_quote(binding.valid)}")
    if binding.index:
        items.append(f"index = [{binding.index[0]}, {binding.index[1]}]")
    if binding.per_module:
        items.append(f"per_module = {binding.per_module}")
    if binding.positive:
        items.append(f"positive = {_quote(binding.positive)}")
    entry = f"{{ {', '.join(items)} }},"
    note = [f"    {_comment(binding.note)}"] if binding.note else []
    return [*note, f"    # {entry}" if binding.disabled else f"    {entry}"]


def _flag(flag: Flag) -> str:
    entry = f"    {{ signal = {_quote(flag.signal)}, code = {_quote(flag.code)} }},"
    return entry if flag.catalogued else entry + "  # TODO: not in the fault catalogue"


def _quote(text: str) -> str:
    """A TOML basic string (JSON's escaping is valid TOML)."""
    return json.dumps(text, ensure_ascii=False)


def _comment(text: str) -> str:
    return "# " + " ".join(text.split())
