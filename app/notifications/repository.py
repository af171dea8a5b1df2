"""SQL for rules and contact details (the outbox and notices have their own modules)."""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.notifications.apprise_channel import masked
from app.notifications.schemas import RuleOut

RULE_COLUMNS = """
SELECT r.id, r.name, r.enabled,
       (SELECT array_agg(code ORDER BY code) FROM site WHERE id = ANY(r.site_ids)),
       r.min_priority, r.codes, r.events,
       (SELECT coalesce(array_agg(username ORDER BY username), '{}') FROM app_user
        WHERE id = ANY(r.user_ids)),
       r.channels, r.escalate_after_s / 60.0, r.created_at, r.site_ids,
       (SELECT coalesce(array_agg(name ORDER BY name), '{}') FROM oncall_roster
        WHERE id = ANY(r.roster_ids))
FROM notification_rule r
"""

INSERT_RULE = text("""
INSERT INTO notification_rule (name, enabled, site_ids, min_priority, codes, events, user_ids,
                               roster_ids, channels, escalate_after_s)
VALUES (:name, :enabled, :site_ids, :min_priority, :codes, :events, :user_ids, :roster_ids,
        :channels, :escalate_after_s)
RETURNING id
""")

UPDATE_RULE = text("""
UPDATE notification_rule SET name = :name, enabled = :enabled, site_ids = :site_ids,
       min_priority = :min_priority, codes = :codes, events = :events, user_ids = :user_ids,
       roster_ids = :roster_ids, channels = :channels, escalate_after_s = :escalate_after_s
WHERE id = :id
""")

UPSERT_CONTACT = text("""
INSERT INTO notification_contact (user_id, email, webhook_url, webhook_secret, apprise_url,
                                  updated_at)
VALUES (:user_id, :email, :webhook_url, :secret, :apprise_url, now())
ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, webhook_url = excluded.webhook_url,
       webhook_secret = excluded.webhook_secret, apprise_url = excluded.apprise_url,
       updated_at = now()
""")


def _rule(row: Row[Any]) -> tuple[RuleOut, tuple[int, ...] | None]:
    values: tuple[Any, ...] = tuple(row)
    keys = (
        "id",
        "name",
        "enabled",
        "sites",
        "min_priority",
        "codes",
        "events",
        "users",
        "channels",
        "escalate_after_minutes",
        "created_at",
    )
    site_ids: list[int] | None = values[11]
    scope = None if site_ids is None else tuple(site_ids)
    fields = dict(zip(keys, values[:11], strict=True))
    return RuleOut.model_validate({**fields, "rosters": values[12]}), scope


async def list_rules(session: AsyncSession) -> list[tuple[RuleOut, tuple[int, ...] | None]]:
    """Every rule with the site ids it covers (None: every site)."""
    rows = await session.execute(text(RULE_COLUMNS + " ORDER BY r.id"))
    return [_rule(row) for row in rows]


async def get_rule(
    session: AsyncSession, rule_id: int
) -> tuple[RuleOut, tuple[int, ...] | None] | None:
    """One rule with its site ids, or None."""
    row = (
        await session.execute(
            text(RULE_COLUMNS + " WHERE r.id = :id FOR UPDATE OF r"), {"id": rule_id}
        )
    ).first()
    return None if row is None else _rule(row)


async def site_ids_by_code(session: AsyncSession, codes: list[str]) -> dict[str, int]:
    """The ids of the named sites that exist."""
    rows = await session.execute(
        text("SELECT code AS key, id FROM site WHERE code = ANY(:codes)"), {"codes": codes}
    )
    return {row.key: row.id for row in rows}


async def user_ids_by_name(session: AsyncSession, names: list[str]) -> dict[str, int]:
    """The ids of the named users that exist and are enabled."""
    rows = await session.execute(
        text(
            "SELECT username AS key, id FROM app_user WHERE username = ANY(:names) "
            "AND disabled_at IS NULL"
        ),
        {"names": names},
    )
    return {row.key: row.id for row in rows}


async def roster_ids_by_name(session: AsyncSession, names: list[str]) -> dict[str, int]:
    """The ids of the named rosters that exist."""
    rows = await session.execute(
        text("SELECT name, id FROM oncall_roster WHERE name = ANY(:names)"), {"names": names}
    )
    return {row.name: row.id for row in rows}


@dataclass(frozen=True, slots=True)
class Contact:
    """A user's saved addresses (the Apprise URL and signing key are secrets)."""

    email: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    apprise_url: str | None = None


async def contact(session: AsyncSession, user_id: int) -> Contact:
    """A user's addresses (all None if they saved none)."""
    row = (
        await session.execute(
            text(
                "SELECT email, webhook_url, webhook_secret, apprise_url FROM notification_contact "
                "WHERE user_id = :id"
            ),
            {"id": user_id},
        )
    ).first()
    return Contact() if row is None else Contact(*row)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One message as the admin page lists it."""

    delivery_id: UUID
    username: str | None
    channel: str
    target: str
    subject: str
    state: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


RECENT = text("""
SELECT o.delivery_id, u.username, o.channel, o.target, o.subject, o.state, o.attempts,
       o.last_error, o.created_at, o.sent_at
FROM notification_outbox o LEFT JOIN app_user u ON u.id = o.user_id
WHERE CAST(:scope AS int[]) IS NULL OR CAST(o.payload ->> 'site_id' AS int) = ANY(:scope)
ORDER BY (o.state = 'failed') DESC, o.id DESC LIMIT :limit
""")


async def recent_messages(
    session: AsyncSession, *, scope: tuple[int, ...] | None, limit: int = 50
) -> list[OutboxRow]:
    """Failed messages first, then the newest; only those of the scope's sites if limited."""
    rows = await session.execute(
        RECENT, {"scope": None if scope is None else list(scope), "limit": limit}
    )
    found = [OutboxRow(*row) for row in rows]
    return [replace(m, target=masked(m.target)) if m.channel == "apprise" else m for m in found]
