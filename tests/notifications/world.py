"""Recipients, rules and alarms committed where a live backend's worker sees them."""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.alarms.repository import AlarmSource, raise_alarm
from tests.factories import DeviceSite, committed_device_site


@dataclass(frozen=True)
class Recipient:
    """A user with contact details."""

    user_id: int
    email: str | None
    webhook_url: str | None
    secret: str


def recipient(
    dsn: str,
    name: str,
    *,
    email: str | None = None,
    webhook: str | None = None,
    role: str = "operator",
    sites: list[int] | None = None,
) -> Recipient:
    """A user named `name` with these contact details (and a webhook signing key)."""
    key = secrets.token_hex(16)
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "INSERT INTO app_user (username, password_hash, role, site_ids) "
            "VALUES (%s, 'x', %s, %s) RETURNING id",
            (name, role, sites),
        ).fetchone()
        assert row is not None
        conn.execute(
            "INSERT INTO notification_contact (user_id, email, webhook_url, webhook_secret) "
            "VALUES (%s, %s, %s, %s)",
            (row[0], email, webhook, key),
        )
    return Recipient(row[0], email, webhook, key)


def rule(
    dsn: str,
    *,
    users: list[int],
    channels: list[str],
    sites: list[int] | None = None,
    min_priority: int = 4,
    events: tuple[str, ...] = ("raised",),
    codes: list[str] | None = None,
    escalate_after_s: int = 0,
    rosters: list[int] | None = None,
) -> int:
    """A notification rule; returns its id."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "INSERT INTO notification_rule (name, site_ids, min_priority, codes, events, "
            "user_ids, channels, escalate_after_s, roster_ids) "
            "VALUES ('test', %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (
                sites,
                min_priority,
                codes,
                list(events),
                users,
                channels,
                escalate_after_s,
                rosters or [],
            ),
        ).fetchone()
    assert row is not None
    return int(row[0])


@dataclass(frozen=True)
class Module:
    """A module of a committed site, with its string."""

    rack_id: int
    module_id: int


async def first_module(engine: AsyncEngine, site: DeviceSite) -> Module:
    """The site's first module and its string."""
    async with AsyncSession(engine) as session:
        row = (
            await session.execute(
                text("SELECT rack_id, id FROM module WHERE id = :id"), {"id": site.module_ids[0]}
            )
        ).one()
    return Module(row[0], row[1])


async def raise_cell_alarm(
    engine: AsyncEngine,
    site: DeviceSite,
    *,
    cell: int = 6,
    value: float = 3.71,
    code: str = "cell_ov_alarm",
    priority: int = 2,
    ts: datetime | None = None,
) -> None:
    """Commit an alarm through the backend's own raise (the trigger writes its notice)."""
    module = await first_module(engine, site)
    async with AsyncSession(engine) as session, session.begin():
        await raise_alarm(
            session,
            AlarmSource(site.site_id, module.rack_id, module.module_id, cell),
            code=code,
            priority=priority,
            message=f"Cell {cell + 1} at {value} V",
            ts=ts or datetime.now(UTC),
            value=value,
            threshold=3.65,
        )


async def site_on(engine: AsyncEngine) -> DeviceSite:
    """A committed site with a device."""
    return await committed_device_site(engine)
