"""Fault codes for one-bit flags: the catalogue's code where the name says which, else its own."""

import re
import tomllib

from edge.can.mapping_warnings import CATALOGUE

# Vendor spellings turned into the catalogue's words.
WORDS = (
    ("over_voltage", "ov"),
    ("under_voltage", "uv"),
    ("over_temperature", "over_temp"),
    ("under_temperature", "under_temp"),
    ("chg", "charge"),
    ("dchg", "discharge"),
    ("dsg", "discharge"),
    ("isolation", "insulation"),
)
PREFIXES = ("flag_", "flt_", "alm_", "cell_", "pack_", "bms_")
SEVERITIES = ("", "_alarm", "_warning", "_fault")


def snake_case(name: str) -> str:
    """CellOverVoltage -> cell_over_voltage; a valid fault code (letters, digits, _)."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
    text = re.sub(r"[^a-z0-9]+", "_", text).strip("_")
    if not text or not text[0].isalpha():
        text = f"f_{text}"
    return text[:63]


def catalogue_codes() -> frozenset[str]:
    """The codes the backend's fault catalogue describes (empty when it is not installed)."""
    if not CATALOGUE.exists():
        return frozenset()
    return frozenset(tomllib.loads(CATALOGUE.read_text(encoding="utf-8")))


def flag_code(name: str, known: frozenset[str]) -> tuple[str, bool]:
    """The flag's code and whether the catalogue describes it."""
    code = snake_case(name)
    for old, new in WORDS:
        code = re.sub(rf"(^|_){old}(_|$)", rf"\g<1>{new}\g<2>", code)
    candidates = [code]
    for prefix in PREFIXES:
        if candidates[-1].startswith(prefix):
            candidates.append(candidates[-1].removeprefix(prefix))
    for candidate in candidates:
        for severity in SEVERITIES:
            if candidate + severity in known:
                return candidate + severity, True
    short = code.removeprefix("flag_")
    return (short if short[:1].isalpha() else code), False
