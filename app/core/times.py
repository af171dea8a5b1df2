"""Times from requests: offset-aware, and representable in UTC (where everything is compared)."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime


def to_utc(value: datetime) -> datetime:
    """The time in UTC; a ValueError (a clear 422) when UTC cannot hold it."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{value.isoformat()} falls outside the years 1 to 9999 once converted to UTC"
        ) from None


UtcTime = Annotated[AwareDatetime, AfterValidator(to_utc)]
