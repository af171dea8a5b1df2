"""Which alarm events a rule asks for: a pure decision on typed facts."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class NoticeEvent(StrEnum):
    """What happened to an alarm (the trigger's vocabulary)."""

    RAISED = "raised"
    CLEARED = "cleared"
    ACKED = "acked"


class Channel(StrEnum):
    """How a message travels."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    APPRISE = "apprise"


# The events a rule may subscribe to (an acknowledgement only stops escalation).
RULE_EVENTS = (NoticeEvent.RAISED, NoticeEvent.CLEARED)


@dataclass(frozen=True, slots=True)
class AlarmFacts:
    """One alarm as a message tells it: where, what, how bad, and the numbers."""

    alarm_id: int
    site_id: int
    site_code: str
    site_name: str
    code: str
    priority: int
    state: str
    message: str
    value: float | None
    threshold: float | None
    string_name: str | None
    module_position: int | None
    cell_index: int | None
    raised_at: datetime


@dataclass(frozen=True, slots=True)
class Rule:
    """A notification rule as the fan-out reads it."""

    id: int
    name: str
    site_ids: tuple[int, ...] | None
    min_priority: int
    codes: tuple[str, ...] | None
    events: tuple[str, ...]
    user_ids: tuple[int, ...]
    channels: tuple[str, ...]
    escalate_after_s: int = 0  # 0: as events happen; N: a tier told after N s unacknowledged
    roster_ids: tuple[int, ...] = ()  # whoever is on call in these when the rule is told


def matches(rule: Rule, alarm: AlarmFacts, event: str) -> bool:
    """Whether the rule wants this event of this alarm (priority 1 is the most urgent);
    escalation tiers are told by the escalation sweep, never by events."""
    return (
        rule.escalate_after_s == 0
        and event in rule.events
        and alarm.priority <= rule.min_priority
        and (rule.site_ids is None or alarm.site_id in rule.site_ids)
        and (rule.codes is None or alarm.code in rule.codes)
    )
