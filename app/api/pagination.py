"""Cursor pagination for JSON lists: an opaque cursor holds the key of the last item sent."""

import base64
import binascii
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import HTTPException, Query
from pydantic import BaseModel, Field

from app.core.errors import error_body

T = TypeVar("T")
MAX_LIMIT = 1000

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")]
Cursor = Annotated[str | None, Query(max_length=200, description="next_cursor of the last page")]


class Page(BaseModel, Generic[T]):
    """One page of a list; pass next_cursor back as ?cursor= for the next (null: last page)."""

    items: list[T]
    next_cursor: str | None = Field(description="null on the last page")


def encode_cursor(*key: int | str | datetime) -> str:
    """An opaque cursor for a key (ids, times)."""
    parts = [k.isoformat() if isinstance(k, datetime) else k for k in key]
    return base64.urlsafe_b64encode(orjson.dumps(parts)).decode().rstrip("=")


def decode_cursor(cursor: str, *types: type) -> tuple[Any, ...]:
    """The key inside a cursor, with these types; 422 naming the cursor when it is not one."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = orjson.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(parts, list) or len(parts) != len(types):
            raise ValueError("wrong shape")
        return tuple(
            datetime.fromisoformat(p) if t is datetime else t(p)
            for p, t in zip(parts, types, strict=True)
        )
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as exc:
        details = [
            {"field": "query.cursor", "message": "not a cursor from this list", "value": cursor}
        ]
        raise HTTPException(
            422, error_body("validation_error", "the request is invalid", details)
        ) from exc


def page(
    items: list[T], limit: int, key: Callable[[T], tuple[int | str | datetime, ...]]
) -> Page[T]:
    """A page of at most `limit` items, from up to limit + 1 fetched (the extra says: more)."""
    shown = items[:limit]
    more = len(items) > limit
    return Page[T](items=shown, next_cursor=encode_cursor(*key(shown[-1])) if more else None)
