"""How a database addresses strings and modules, and how flat numbering splits into modules."""

import re
from dataclasses import dataclass

from edge.suggest.draft import Part
from edge.suggest.signals import MessageInfo

MAX_MODULES = 32  # the mapping's limit for flat numbering
# "12 modules of 18", "12 modules x 18" (also with a multiplication sign)
MODULES_OF = re.compile(r"(\d+)\s*modules?\s*(?:of|x|\u00d7)\s*(\d+)", re.IGNORECASE)
CELLS_PER = re.compile(r"(\d+)\s*cells?\s*(?:per|each|/)\s*module", re.IGNORECASE)
TEMPS_PER = re.compile(
    r"(\d+)\s*(?:thermistors?|temperatures?|sensors?|ntcs?)\s*(?:per|each|/)"
    r"\s*module",
    re.IGNORECASE,
)
COMMON_CELLS = (16, 18, 12, 14, 24, 20, 15, 10, 8)
COMMON_TEMPS = (4, 2, 6, 8, 3, 5, 16, 12, 10)


@dataclass(frozen=True, slots=True)
class Split:
    """Members per module for a flat family, and how that was decided (a comment)."""

    per_module: int
    reason: str
    guessed: bool


def free_bits(messages: tuple[MessageInfo, ...]) -> int:
    """Low frame-id bits that are zero in every message id: room for an address there."""
    zeros = [(m.frame_id & -m.frame_id).bit_length() - 1 for m in messages if m.frame_id]
    return min(zeros, default=0)


def cells_split(total: int, comments: tuple[str, ...]) -> Split:
    """Cells per module of a family numbered across the string."""
    for text in comments:
        for pattern, group in ((MODULES_OF, 2), (CELLS_PER, 1)):
            match = pattern.search(text)
            if match and _fits(total, int(match.group(group)), 64):
                return Split(
                    int(match.group(group)), f'the database says "{match.group(0)}"', guessed=False
                )
    return _divisor(total, COMMON_CELLS, "cells")


def temps_split(total: int, modules: int | None, comments: tuple[str, ...]) -> Split:
    """Sensors per module of a flat temperature family: as many modules as the cells have."""
    if modules and _fits(total, total // modules, 16):
        return Split(
            total // modules,
            f"{total} sensors over the {modules} modules the cells give",
            guessed=False,
        )
    for text in comments:
        match = TEMPS_PER.search(text)
        if match and _fits(total, int(match.group(1)), 16):
            return Split(int(match.group(1)), f'the database says "{match.group(0)}"', False)
    return _divisor(total, COMMON_TEMPS, "sensors")


def _fits(total: int, per: int, most: int) -> bool:
    """Whether `total` splits into whole modules of `per` (at most `most`) within the limits."""
    return 1 <= per <= most and total % per == 0 and total // per <= MAX_MODULES


def _divisor(total: int, common: tuple[int, ...], what: str) -> Split:
    for per in common:
        if total % per == 0 and total // per <= MAX_MODULES:
            return Split(
                per,
                f"GUESS: {what} per module unknown; {total} = {total // per} "
                f"modules x {per}. Check and correct per_module",
                guessed=True,
            )
    per = -(-total // MAX_MODULES)
    return Split(
        per,
        f"GUESS: {what} per module unknown and {total} has no usual divisor; correct per_module",
        guessed=True,
    )


def id_part(free: int, role: str) -> tuple[Part, str] | None:
    """The string or module number in frame-id bits, guessed from the ids' free low bits."""
    if free >= 16:
        bits = (8, 8) if role == "string" else (0, 8)
        return Part("id_bits", bits), (
            "GUESS: every frame id has its low 16 bits zero, read as "
            "string << 8 | module; check the vendor's documentation"
        )
    if free >= 4:
        return Part("id_bits", (0, 4), offset=1), (
            f"GUESS: every frame id ends in a zero hex digit, read as the {role} number; the "
            f"database's own id (0 there) is taken as {role} 1 (offset = 1): drop the offset "
            f"if the BMS numbers its {role}s from 1 on the bus"
        )
    return None
