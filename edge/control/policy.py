"""The local degrade-not-trip policy: the edge's own reactions to BMS fault bits (DESIGN §6).

Three tiers, like a BMS's limits: a warning derates the affected string; an alarm isolates the
string (or bypasses the module); a site-level safety condition trips the site. The policy
decides the moment the fault frame arrives and needs no backend; its actions are journaled and
reported as commands issued by the policy once the backend can be reached.

A condition is acted on at its onset (a fault bit rising). Returning a string to service while
the condition is still present is the operator's decision; the BMS's own hardware protection
stays armed either way.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from edge.can.events import Event, EventKind
from edge.site import PolicyConfig


class Tier(IntEnum):
    """How severe a condition is; a higher tier takes a stronger action."""

    WARNING = 1
    ALARM = 2
    SAFETY = 3


def iso(ts: float) -> str:
    """A Unix time as UTC ISO-8601, to the microsecond."""
    return datetime.fromtimestamp(ts, UTC).isoformat()


@dataclass(frozen=True, slots=True)
class Trigger:
    """The condition an action answers: its tier, fault code, onset and place."""

    tier: Tier
    code: str
    onset: float  # the time of the frame that showed the condition
    string: int
    module: int  # 0 for a string-level condition

    def record(self) -> dict[str, Any]:
        """The trigger as the backend records it."""
        return {
            "tier": self.tier.name.lower(),
            "code": self.code,
            "onset_at": iso(self.onset),
            "string": self.string,
            "module": self.module or None,
        }


@dataclass(frozen=True, slots=True)
class Action:
    """What the policy decided, on which condition."""

    kind: str  # derate | isolate_string | isolate_module | trip
    string: int | None  # None: the whole site
    module: int | None
    trigger: Trigger
    pct: float | None = None
    revert_after_s: int | None = None

    def describe(self) -> str:
        """The action in words, for the log."""
        where = "the site" if self.string is None else f"string {self.string}"
        if self.module is not None:
            where += f" module {self.module}"
        verb = {"isolate_string": "isolate", "isolate_module": "bypass", "trip": "trip"}.get(
            self.kind, f"derate to {self.pct or 0:g} %"
        )
        return f"{self.trigger.tier.name.lower()} {self.trigger.code}: {verb} {where}"

    def record(self) -> dict[str, Any]:
        """The action as the backend records it."""
        return {
            "kind": self.kind,
            "string": self.string,
            "module": self.module,
            "pct": self.pct,
            "revert_after_s": self.revert_after_s,
            "trigger": self.trigger.record(),
        }


class Policy:
    """Turns fault events into actions; pure logic, no I/O."""

    def __init__(self, config: PolicyConfig, *, can_bypass: bool) -> None:
        self.config = config
        self.can_bypass = can_bypass
        self.tiers = {
            code: tier
            for tier, codes in (
                (Tier.WARNING, config.warning),
                (Tier.ALARM, config.alarm),
                (Tier.SAFETY, config.safety),
            )
            for code in codes
        }
        self.alarms: dict[int, set[tuple[int, str]]] = {}  # string -> its alarm conditions

    def on_events(self, events: list[Event]) -> list[Action]:
        """The actions for one frame's events (all of one module or string)."""
        raised = []
        for event in events:
            tier = self.tiers.get(event.code)
            if tier is None:
                continue
            if event.kind is EventKind.FAULT_RAISED:
                raised.append((tier, event))
            elif event.kind is EventKind.FAULT_CLEARED and tier is Tier.ALARM:
                self.alarms.get(event.string, set()).discard((event.module, event.code))
        if not raised:
            return []
        for tier, event in raised:
            if tier is Tier.ALARM:
                self.alarms.setdefault(event.string, set()).add((event.module, event.code))
        tier, worst = max(raised, key=lambda pair: pair[0])
        return [self._action(tier, worst)]

    def _action(self, tier: Tier, event: Event) -> Action:
        why = Trigger(tier, event.code, event.ts, event.string, event.module)
        if tier is Tier.SAFETY or (tier is Tier.ALARM and self._site_wide()):
            return Action("trip", None, None, why)
        if tier is Tier.ALARM:
            if self.config.isolate == "module" and event.module and self.can_bypass:
                return Action("isolate_module", event.string, event.module, why)
            return Action("isolate_string", event.string, None, why)
        return Action(
            "derate",
            event.string,
            None,
            why,
            pct=self.config.derate_pct,
            revert_after_s=self.config.derate_revert_s,
        )

    def _site_wide(self) -> bool:
        """Alarm-level conditions on enough strings at once to be a site-level condition."""
        needed = self.config.trip_when_strings_in_alarm
        return needed > 0 and sum(1 for found in self.alarms.values() if found) >= needed


def check_codes(config: PolicyConfig, fault_names: dict[Any, dict[int, str]]) -> None:
    """Every code the policy names must be a fault the protocol can report; ValueError if not."""
    known = {name for names in fault_names.values() for name in names.values()}
    for tier in ("warning", "alarm", "safety"):
        unknown = [code for code in getattr(config, tier) if code not in known]
        if unknown:
            raise ValueError(
                f"policy.{tier}: {', '.join(map(repr, unknown))} is not a fault code of this "
                f"protocol (known: {', '.join(sorted(known))})"
            )
