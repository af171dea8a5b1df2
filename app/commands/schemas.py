"""Degrade-not-trip command requests and views, as the API and the edge see them."""

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.enums import CommandKind, DisableReason
from app.core.iso_times import IsoTime

STRING_KINDS = {
    CommandKind.ISOLATE_STRING,
    CommandKind.RETURN_STRING,
    CommandKind.SET_BALANCING,
}
MODULE_KINDS = {CommandKind.ISOLATE_MODULE, CommandKind.RETURN_MODULE}
SITE_OR_STRING_KINDS = {CommandKind.DERATE, CommandKind.RESET_ALARMS}
# The commands that act on a fault, and so may name the alarm they answer.
ANSWERING_KINDS = {CommandKind.DERATE, CommandKind.ISOLATE_STRING, CommandKind.ISOLATE_MODULE}

# Free text may span lines, but PostgreSQL's text cannot hold NUL: refused here, named, not a 500.
NO_NUL = r"^[^\x00]*$"


class CommandRequest(BaseModel):
    """What an operator (or the edge policy) asks for, with a reason and a note."""

    model_config = ConfigDict(extra="forbid")

    kind: CommandKind
    string: Annotated[int, Field(ge=1, le=255)] | None = None
    module: Annotated[int, Field(ge=1, le=255)] | None = None
    pct: Annotated[float, Field(ge=0, le=100)] | None = None
    kw: Annotated[float, Field(gt=0, le=1e6)] | None = None
    enabled: bool | None = None
    revert_after_s: Annotated[int, Field(ge=60, le=7 * 86400)] | None = None
    reason: DisableReason
    note: Annotated[str, Field(min_length=3, max_length=500, pattern=NO_NUL)]
    expires_in_s: Annotated[int, Field(ge=5, le=3600)] = 60
    # The alarm this command answers (optional): an isolation it makes starts at that alarm
    # (its onset) in mean time to isolate and MTTR; without one, a fault isolation counts in
    # neither, its cause being unknown.
    alarm_id: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _answers_a_fault(self) -> Self:
        if self.alarm_id is None:
            return self
        if self.kind not in ANSWERING_KINDS:
            raise ValueError(f"{self.kind.value} answers no alarm: leave alarm_id out")
        if self.reason is not DisableReason.FAULT:
            raise ValueError(
                f"a {self.reason.value} command answers no fault: leave alarm_id out, "
                "or give reason fault"
            )
        return self

    @model_validator(mode="after")
    def _target_and_parameters(self) -> Self:
        kind = self.kind
        if kind in STRING_KINDS and self.string is None:
            raise ValueError(f"{kind.value} needs a string")
        if kind in MODULE_KINDS and (self.string is None or self.module is None):
            raise ValueError(f"{kind.value} needs a string and a module")
        if kind not in MODULE_KINDS and self.module is not None:
            raise ValueError(f"{kind.value} acts on a string or the site, not a module")
        if kind is CommandKind.DERATE and (self.pct is None) == (self.kw is None):
            raise ValueError("derate needs exactly one of pct or kw")
        if kind is not CommandKind.DERATE and (self.pct, self.kw, self.revert_after_s) != (
            None,
            None,
            None,
        ):
            raise ValueError("pct, kw and revert_after_s are for derate only")
        if kind is CommandKind.TRIP:
            raise ValueError(
                "trip is the edge safety policy's last resort, not an operator command; "
                "isolate strings one by one instead"
            )
        if (kind is CommandKind.SET_BALANCING) != (self.enabled is not None):
            raise ValueError("enabled is for set_balancing, which needs it")
        return self

    def derate_pct(self, *, nameplate_kw: float, strings: int) -> float | None:
        """A derate's limit in % of rating (a kW derate over the site's or one string's share)."""
        if self.kind is not CommandKind.DERATE:
            return None
        if self.pct is not None:
            return self.pct
        assert self.kw is not None
        share = nameplate_kw / (strings if self.string else 1)
        return round(min(100.0, 100.0 * self.kw / share), 2)


class CommandView(BaseModel):
    """A command and where it is in its lifecycle."""

    id: int
    site: str
    kind: str
    string: int | None
    module: int | None
    params: dict[str, Any]
    reason: str
    note: str
    origin: str
    requested_by: str
    state: str
    requested_at: datetime
    expires_at: datetime | None
    revert_at: datetime | None
    sent_at: datetime | None
    acked_at: datetime | None
    verified_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any]
    alarm_id: int | None = None  # the alarm an operator's command answers
    fault_code: str | None = None  # the fault it answers (an edge policy action's trigger)
    fault_onset_at: datetime | None = None  # when that fault began
    deadline_at: datetime | None = None  # when the current state runs out (backend clock)


class EdgeCommand(BaseModel):
    """A command as delivered to the edge."""

    id: int
    kind: str
    string: int | None
    module: int | None
    params: dict[str, Any]
    reason: str
    # Seconds left before it expires, on the backend's clock when it answered: the edge counts
    # them down on its own monotonic clock, so its wall clock being off changes nothing.
    expires_in_s: float
    revert_after_s: int | None


EvidenceTarget = Annotated[str, Field(pattern=r"^\d{1,3}\.\d{1,3}$")]  # "string.module"
EvidenceField = Literal[
    "contactor_closed", "current_a", "charge_limit_a", "discharge_limit_a", "bypassed"
]
Finite = Annotated[float, Field(allow_inf_nan=False)]
# Evidence is numbers as the edge read them: true or "1" is refused, as the schema says.
EvidenceValue = Annotated[float, Field(allow_inf_nan=False, strict=True)]


class ClearRequest(BaseModel):
    """An operator ending a command that is stuck, and why (kept in the audit log)."""

    model_config = ConfigDict(extra="forbid")

    # Printable text: it goes into the command's record and the audit log as written.
    reason: Annotated[str, Field(min_length=3, max_length=500, pattern=r"^[^\x00-\x1f\x7f]*$")]


class EdgeResult(BaseModel):
    """What the edge did with a command."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["acked", "refused", "failed"]
    detail: Annotated[str, Field(max_length=500, pattern=NO_NUL)] = ""
    at: IsoTime
    # Status values the edge read from BMS frames newer than the ACK, per "string.module"
    # (module 0 for the string itself): telemetry that can verify the command at once.
    evidence: Annotated[
        dict[EvidenceTarget, dict[EvidenceField, EvidenceValue]], Field(max_length=64)
    ] = {}


class PolicyTrigger(BaseModel):
    """The condition an edge policy action answered: its tier, fault code, onset and place."""

    model_config = ConfigDict(extra="forbid")

    tier: Literal["warning", "alarm", "safety"]
    code: Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[a-z0-9_]+$")]
    onset_at: IsoTime
    string: Annotated[int, Field(ge=1, le=255)]
    module: Annotated[int, Field(ge=1, le=255)] | None = None


POLICY_TARGETS = {
    "derate": "string",
    "isolate_string": "string",
    "isolate_module": "module",
    "trip": "site",
}


class PolicyActionReport(BaseModel):
    """An action the edge's local policy took by itself, reported after the fact."""

    model_config = ConfigDict(extra="forbid")

    ref: Annotated[str, Field(min_length=3, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]
    kind: Literal["derate", "isolate_string", "isolate_module", "trip"]
    string: Annotated[int, Field(ge=1, le=255)] | None = None
    module: Annotated[int, Field(ge=1, le=255)] | None = None
    pct: Annotated[float, Field(gt=0, le=100)] | None = None
    revert_after_s: Annotated[int, Field(ge=0, le=7 * 86400)] | None = None
    trigger: PolicyTrigger
    sent_at: IsoTime
    outcome: Literal["acked", "refused", "failed"]
    detail: Annotated[str, Field(max_length=500, pattern=NO_NUL)] = ""
    acked_at: IsoTime | None = None
    evidence: Annotated[
        dict[EvidenceTarget, dict[EvidenceField, EvidenceValue]], Field(max_length=64)
    ] = {}
    reported_at: IsoTime

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        scope = POLICY_TARGETS[self.kind]
        has = (self.string is not None, self.module is not None)
        if has != {"site": (False, False), "string": (True, False), "module": (True, True)}[scope]:
            raise ValueError(f"{self.kind} acts on {scope}: give exactly its string/module")
        if (self.kind == "derate") != (self.pct is not None):
            raise ValueError("pct is for derate, which needs it")
        if (self.outcome == "acked") != (self.acked_at is not None):
            raise ValueError("acked_at goes with outcome acked, and only with it")
        if self.trigger.onset_at > self.sent_at:
            raise ValueError("trigger.onset_at is after sent_at: the action came before its cause")
        return self
