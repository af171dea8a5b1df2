"""What the notification API reads and answers: rules, contact details, test messages."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from app.notifications.apprise_channel import apprise_problem

EventName = Literal["raised", "cleared"]
ChannelName = Literal["email", "webhook", "apprise"]
# Deliberately simple: one @, no spaces; the SMTP server has the last word on the address.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
SITE_CODE = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
FAULT_CODE = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
USERNAME = Field(min_length=1, max_length=100, pattern=r"^\S+$")


class RuleIn(BaseModel):
    """A rule: which alarms (sites, minimum priority, codes, events), to whom, by which
    channels. No sites means every site; no codes means every code."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    enabled: bool = True
    sites: list[str] | None = Field(default=None, min_length=1, max_length=500)
    min_priority: int = Field(default=2, ge=1, le=4, description="1 critical .. 4 low, inclusive")
    codes: list[str] | None = Field(default=None, min_length=1, max_length=200)
    events: list[EventName] = Field(default=["raised"], min_length=1, max_length=2)
    users: list[str] = Field(default=[], max_length=200)
    rosters: list[str] = Field(
        default=[], max_length=50, description="on-call rosters: whoever is on call when told"
    )
    channels: list[ChannelName] = Field(min_length=1, max_length=3)
    escalate_after_minutes: float = Field(
        default=0,
        ge=0,
        le=10080,
        description="0: told as events happen; N: an escalation tier, told when a matching "
        "alarm stays active and unacknowledged for N minutes",
    )

    @model_validator(mode="after")
    def _someone(self) -> "RuleIn":
        if not self.users and not self.rosters:
            raise ValueError("users, rosters: name at least one user or on-call roster")
        return self


class RuleOut(BaseModel):
    """A stored rule, naming sites by code and recipients by username."""

    id: int
    name: str
    enabled: bool
    sites: list[str] | None
    min_priority: int
    codes: list[str] | None
    events: list[str]
    users: list[str]
    rosters: list[str]
    channels: list[str]
    escalate_after_minutes: float
    created_at: datetime


class ContactIn(BaseModel):
    """Your own contact details; null removes one. A new webhook gets a new signing key."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, max_length=254, pattern=EMAIL_PATTERN)
    webhook_url: HttpUrl | None = None
    apprise_url: str | None = Field(
        default=None,
        max_length=2000,
        description="a chat or paging service as an Apprise URL; left out: kept as it is",
    )
    rotate_webhook_secret: bool = False

    @field_validator("apprise_url")
    @classmethod
    def _apprise_understands(cls, url: str | None) -> str | None:
        problem = None if url is None else apprise_problem(url)
        if problem:
            raise ValueError(problem)
        return url


class ContactOut(BaseModel):
    """Your contact details; the webhook signing key only when it was just made."""

    email: str | None
    webhook_url: str | None
    apprise_url: str | None = Field(description="masked: the secrets it holds are never shown")
    has_webhook_secret: bool
    webhook_secret: str | None = None


class TestSent(BaseModel):
    """The test messages queued, one per channel you have."""

    delivery_ids: list[UUID]


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
CLOCK = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="local time, HH:MM")


class ShiftIn(BaseModel):
    """One person on call each week from a local start to a local end (the next day if the
    end is at or before the start)."""

    model_config = ConfigDict(extra="forbid")

    weekday: Weekday
    starts: str = CLOCK
    ends: str = CLOCK
    user: str = USERNAME


class RosterIn(BaseModel):
    """An on-call roster: weekly shifts in one IANA time zone."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    time_zone: str = Field(min_length=1, max_length=64, examples=["Europe/Berlin"])
    shifts: list[ShiftIn] = Field(min_length=1, max_length=200)


class ShiftOut(BaseModel):
    """A stored shift."""

    weekday: str
    starts: str
    ends: str
    user: str


class RosterOut(BaseModel):
    """A stored roster with who is on call now."""

    id: int
    name: str
    time_zone: str
    shifts: list[ShiftOut]
    on_call_now: list[str]
