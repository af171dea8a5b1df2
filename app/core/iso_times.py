"""Times in requests are ISO 8601 text, as the API documents them.

Pydantic would also read a bare number as seconds since 1970: `"at": 0` or `start=0.5` passed
as a time in 1970, and clients built from the schema (which says date-time) never send one.
"""

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator


def iso_only(value: object) -> object:
    """Refuse a bare number; anything else goes on to the datetime validation."""
    if isinstance(value, bool | int | float) or _numeric_text(value):
        raise ValueError(
            f"{value!r} is a number; give an ISO 8601 time with its offset, e.g. "
            "2026-12-05T10:00:00Z"
        )
    return value


def _numeric_text(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


IsoTime = Annotated[datetime, BeforeValidator(iso_only)]
AwareIsoTime = Annotated[AwareDatetime, BeforeValidator(iso_only)]
