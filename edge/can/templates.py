"""Signal-name templates of mapping files: `{n}`, `{n-1:03}`, `{s+1}` and nothing else.

Vendors number their signals from 0 or 1, per module or across a string, with or without
leading zeros. A template names a family of signals with a little arithmetic on the index, so
that `CellVoltage_{n-1:03}` with n = 1..18 binds CellVoltage_000..CellVoltage_017. Anything
else in braces is refused with what to write instead (str.format would raise KeyError or accept
attribute lookups).
"""

import re

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
EXPRESSION = re.compile(r"^\s*([ns])\s*(?:([+-])\s*(\d+))?\s*(?::(.*))?$")
HELP = (
    "write {n} for the index, {n-1} or {n+6} for an offset, {n:03} for leading zeros "
    "(e.g. Cell_{n-1:03}); {s} is the string number where the message has strings = [a, b]"
)


class TemplateError(ValueError):
    """A template that cannot name signals; the message says what to write instead."""


def variables(template: str) -> set[str]:
    """The variables (n, s) a template uses; TemplateError if any placeholder is malformed."""
    found = set()
    for match in PLACEHOLDER.finditer(template):
        parsed = EXPRESSION.match(match.group(1))
        if parsed is None:
            raise TemplateError(f"{match.group(0)} in {template!r} is not a placeholder; {HELP}")
        spec = parsed.group(4)
        if spec:
            try:
                format(1, spec)
            except ValueError as exc:
                raise TemplateError(
                    f"{match.group(0)} in {template!r}: bad format {spec!r} ({exc}); {HELP}"
                ) from exc
        found.add(parsed.group(1))
    stray = PLACEHOLDER.sub("", template)
    if "{" in stray or "}" in stray:
        raise TemplateError(f"unbalanced brace in {template!r}; {HELP}")
    return found


def expand(template: str, **values: int) -> str:
    """The signal name for these values; variables not given are left as written."""

    def substitute(match: re.Match[str]) -> str:
        parsed = EXPRESSION.match(match.group(1))
        if parsed is None:
            raise TemplateError(f"{match.group(0)} in {template!r} is not a placeholder; {HELP}")
        name, sign, amount, spec = parsed.groups()
        if name not in values:
            return match.group(0)
        number = values[name] + (int(amount) if sign == "+" else -int(amount) if sign else 0)
        if number < 0:
            raise TemplateError(
                f"{match.group(0)} in {template!r} is {number} for {name} = "
                f"{values[name]}: an index range that starts too low"
            )
        return format(number, spec or "")

    return PLACEHOLDER.sub(substitute, template)
