"""Closed vocabularies stored as text with CHECK constraints (easier to evolve than PG enums)."""

from enum import IntEnum, StrEnum


def sql_in(values: type[StrEnum], column: str) -> str:
    """A CHECK expression that limits a text column to an enum's values."""
    quoted = ", ".join(f"'{v.value}'" for v in values)
    return f"{column} IN ({quoted})"


class AlarmPriority(IntEnum):
    """ISA-18.2 priorities; lower number is more urgent."""

    CRITICAL = 1
    HIGH = 2
    MEDIUM = 3
    LOW = 4


class AlarmState(StrEnum):
    """ISA-18.2 alarm states."""

    NORMAL = "normal"
    UNACKED = "unacked"
    ACKED = "acked"
    RTN_UNACKED = "rtn_unacked"
    SHELVED = "shelved"
    SUPPRESSED = "suppressed"
    OUT_OF_SERVICE = "out_of_service"


class DisableReason(StrEnum):
    """Why a string or module is out of service (SunSpec StrDisRsn)."""

    FAULT = "fault"
    MAINTENANCE = "maintenance"
    EXTERNAL = "external"
    OTHER = "other"


# SunSpec StrDisRsn codes as the BMS reports them.
STR_DIS_RSN = {
    1: DisableReason.FAULT,
    2: DisableReason.MAINTENANCE,
    3: DisableReason.EXTERNAL,
    4: DisableReason.OTHER,
}


class Actor(StrEnum):
    """Who took an isolation or command decision."""

    BMS = "bms"
    EDGE_POLICY = "edge_policy"
    OPERATOR = "operator"


class CommandKind(StrEnum):
    """Degrade-not-trip command kinds (DESIGN.md §6)."""

    DERATE = "derate"
    ISOLATE_STRING = "isolate_string"
    RETURN_STRING = "return_string"
    ISOLATE_MODULE = "isolate_module"
    RETURN_MODULE = "return_module"
    RESET_ALARMS = "reset_alarms"
    SET_BALANCING = "set_balancing"
    TRIP = "trip"  # every string opened: the edge policy's answer to a site-level condition


class CommandState(StrEnum):
    """Command lifecycle: queued → sent → acked → verified, or a final state that says why not."""

    QUEUED = "queued"
    SENT = "sent"
    ACKED = "acked"
    VERIFIED = "verified"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # sent, but the edge never reported by the deadline
    CLEARED = "cleared"  # an operator ended it, with a reason


# States with a deadline; every other state is final.
PENDING_COMMAND_STATES = (CommandState.QUEUED, CommandState.SENT, CommandState.ACKED)
