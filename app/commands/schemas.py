"""Degrade-not-trip command requests and views, as the API and the edge see them."""

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.enums import CommandKind, DisableReason

STRING_KINDS = {
    CommandKind.ISOLATE_STRING,
    CommandKind.RETURN_STRING,
    CommandKind.SET_BALANCING,
}
MODULE_KINDS = {CommandKind.ISOLATE_MODULE, CommandKind.RETURN_MODULE}
SITE_OR_STRING_KINDS = {CommandKind.DERATE, CommandKind.RESET_ALARMS}


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
    note: Annotated[str, Field(min_length=3, max_length=500)]
    expires_in_s: Annotated[int, Field(ge=5, le=3600)] = 60

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
        if (kind is CommandKind.SET_BALANCING) != (self.enabled is not None):
            raise ValueError("enabled is for set_balancing, which needs it")
        return self


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


class EdgeCommand(BaseModel):
    """A command as delivered to the edge."""

    id: int
    kind: str
    string: int | None
    module: int | None
    params: dict[str, Any]
    reason: str
    expires_at: datetime | None
    revert_after_s: int | None


EvidenceTarget = Annotated[str, Field(pattern=r"^\d{1,3}\.\d{1,3}$")]  # "string.module"
EvidenceField = Literal[
    "contactor_closed", "current_a", "charge_limit_a", "discharge_limit_a", "bypassed"
]
Finite = Annotated[float, Field(allow_inf_nan=False)]


class EdgeResult(BaseModel):
    """What the edge did with a command."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["acked", "refused", "failed"]
    detail: Annotated[str, Field(max_length=500)] = ""
    at: datetime
    # Status values the edge read from BMS frames newer than the ACK, per "string.module"
    # (module 0 for the string itself): telemetry that can verify the command at once.
    evidence: Annotated[
        dict[EvidenceTarget, dict[EvidenceField, Finite]], Field(max_length=64)
    ] = {}
