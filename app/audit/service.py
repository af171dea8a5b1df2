"""Writing the audit log: one call for every privileged action, in the caller's transaction."""

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEntry


def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target: str = "",
    site_id: int | None = None,
    details: Mapping[str, Any] | None = None,
    remote_addr: str | None = None,
) -> None:
    """Add who did what to which target, from where, to the audit log."""
    entry = AuditEntry(
        actor=actor,
        action=action,
        target=target,
        site_id=site_id,
        details=dict(details or {}),
        remote_addr=remote_addr,
    )
    session.add(entry)
