"""Roles and what each may do: the permission matrix of docs/ACCESS.md, in one place."""

from enum import StrEnum


class Role(StrEnum):
    """From least to most trusted."""

    VIEWER = "viewer"
    TECHNICIAN = "technician"
    OPERATOR = "operator"
    ADMIN = "admin"


class Permission(StrEnum):
    """Things a role may do (commands are judged by kind and reason, below)."""

    VIEW = "view"  # every page and read endpoint of the user's sites
    ACKNOWLEDGE = "acknowledge"  # acknowledge alarms, with a note
    SHELVE = "shelve"  # shelve and unshelve alarms
    COMMAND = "command"  # queue and cancel commands (which ones: may_command)
    MANAGE = "manage"  # users, sites, devices, tokens


class Access(StrEnum):
    """What an API token may do: read everything of its sites, or also act like an operator."""

    READ = "read"
    WRITE = "write"


# A token acts with the permissions of this role (never an admin's: tokens cannot manage).
TOKEN_ROLE = {Access.READ: Role.VIEWER, Access.WRITE: Role.OPERATOR}

MATRIX: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.VIEW}),
    Role.TECHNICIAN: frozenset({Permission.VIEW, Permission.ACKNOWLEDGE, Permission.COMMAND}),
    Role.OPERATOR: frozenset(
        {Permission.VIEW, Permission.ACKNOWLEDGE, Permission.SHELVE, Permission.COMMAND}
    ),
    Role.ADMIN: frozenset(Permission),
}

# Technicians take equipment out of service and back for their own work, and reset latched
# alarms on it; derating, and acting on faults, is the control room's call.
TECHNICIAN_KINDS = frozenset(
    {
        "isolate_string",
        "return_string",
        "isolate_module",
        "return_module",
        "reset_alarms",
        "set_balancing",
    }
)


def allows(role: Role, permission: Permission) -> bool:
    """Whether the role has the permission."""
    return permission in MATRIX[role]


def may_command(role: Role, kind: str, reason: str) -> str | None:
    """Why this role may not send this command, or None when it may."""
    if not allows(role, Permission.COMMAND):
        return f"a {role} cannot send commands"
    if role is Role.TECHNICIAN and (kind not in TECHNICIAN_KINDS or reason != "maintenance"):
        return "a technician may isolate, return or reset equipment for maintenance only"
    return None
