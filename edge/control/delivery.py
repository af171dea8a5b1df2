"""A command as the backend delivers it, read and checked before the edge acts on it."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Delivered(BaseModel):
    """One delivered command: what to do, to which string or module, and how long it is valid.

    `params` carries the derate share (`pct`) or a flag (`enabled`); `expires_in_s` is the time
    left on the backend's clock when it answered (see edge/control/commands.py).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")  # newer backends may say more

    id: int = Field(ge=1)
    kind: str = Field(min_length=1, max_length=64)
    string: int | None = Field(default=None, ge=1, le=255)  # None: every string of the site
    module: int | None = Field(default=None, ge=1, le=255)
    params: dict[str, float | bool] = Field(default_factory=dict)
    reason: str = ""
    expires_in_s: float = Field(default=0.0, allow_inf_nan=False)
    revert_after_s: int | None = Field(default=None, ge=0)


class UnreadableCommandError(ValueError):
    """A delivery the edge cannot read: which part and why, for the log."""


def read_delivery(raw: Any) -> Delivered:
    """The delivered command, or UnreadableCommandError naming the first bad field."""
    try:
        return Delivered.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(command)"
        raise UnreadableCommandError(
            f"{where}: {first['msg']} (got {first.get('input')!r})"
        ) from exc
