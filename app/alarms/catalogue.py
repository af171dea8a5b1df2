"""The fault-code catalogue (fault_codes.toml): titles, priorities and plain-language actions."""

import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from app.core.enums import AlarmPriority

CATALOGUE_FILE = Path(__file__).with_name("fault_codes.toml")


class FaultCode(BaseModel):
    """What a fault code means and what operators and technicians should do."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    title: str
    priority: int = Field(ge=1, le=4)
    meaning: str
    operator_action: str
    technician_action: str
    safety_note: str = ""
    threshold: float | None = None
    unit: str = ""
    sunspec_evt1: str = ""


@lru_cache
def catalogue() -> dict[str, FaultCode]:
    """Every known fault code."""
    raw = tomllib.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))
    return {code: FaultCode(code=code, **entry) for code, entry in raw.items()}


def describe(code: str) -> FaultCode:
    """The catalogue entry of a code; unknown codes get a generic, medium-priority entry."""
    known = catalogue().get(code)
    if known is not None:
        return known
    return FaultCode(
        code=code,
        title=code.replace("_", " ").capitalize(),
        priority=AlarmPriority.MEDIUM,
        meaning="A fault the catalogue does not describe (vendor-specific bit).",
        operator_action="Check the vendor documentation for this fault bit.",
        technician_action="Check the vendor documentation for this fault bit.",
    )
