"""Times from requests: ISO 8601 text, offset-aware, and representable in UTC (where everything
is compared)."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator

from app.core.iso_times import iso_only


def to_utc(value: datetime) -> datetime:
    """The time in UTC; a ValueError (a clear 422) when UTC cannot hold it."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{value.isoformat()} falls outside the years 1 to 9999 once converted to UTC"
        ) from None


UtcTime = Annotated[AwareDatetime, BeforeValidator(iso_only), AfterValidator(to_utc)]
