"""Filter forms in the URL: a blank field means "any", the way a blank select reads to a person.

A filter form sends every field, blank ones too (`?site=&priority=&state=shelved`). Pydantic
would refuse `priority=""` as "not a valid integer"; here a blank value is the field's default.
"""

from typing import Any

from pydantic import BaseModel, model_validator


def _blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


class UrlFilters(BaseModel):
    """Query-string filters where a blank (or whitespace-only) value falls back to the default."""

    @model_validator(mode="before")
    @classmethod
    def _drop_blanks(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {key: value for key, value in data.items() if not _blank(value)}
