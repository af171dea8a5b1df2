"""Rules and contact details: names resolved to ids, scope checked, every change audited."""

import secrets
from dataclasses import dataclass
from html import escape
from typing import Any
from uuid import UUID, uuid4

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth.service import SignedIn
from app.notifications import repository
from app.notifications.apprise_channel import masked
from app.notifications.rules import Channel
from app.notifications.schemas import ContactIn, ContactOut, RuleIn, RuleOut


class RuleRefusedError(Exception):
    """The request names something that does not exist (422) or lies outside the caller's
    sites (403); the message names the field and the value."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Who:
    """The person acting and from where (the audit trail's who and where)."""

    user: SignedIn
    remote_addr: str | None

    def audit(self, session: AsyncSession, action: str, target: str, **details: Any) -> None:
        """Append an audit entry for this person's action."""
        record(
            session,
            actor=self.user.username,
            action=action,
            target=target,
            details=details,
            remote_addr=self.remote_addr,
        )


def in_scope(rule_sites: tuple[int, ...] | None, scope: tuple[int, ...] | None) -> bool:
    """Whether an admin limited to `scope` may see and change a rule over `rule_sites`."""
    if scope is None:
        return True
    return rule_sites is not None and set(rule_sites) <= set(scope)


def _unknown(field: str, asked: list[str], found: dict[str, int], what: str) -> None:
    missing = sorted(set(asked) - set(found))
    if missing:
        raise RuleRefusedError(f"{field}: no {what} {', '.join(map(repr, missing))}")


async def _params(session: AsyncSession, body: RuleIn, who: Who) -> dict[str, Any]:
    site_ids = None
    if body.sites is not None:
        found = await repository.site_ids_by_code(session, body.sites)
        _unknown("sites", body.sites, found, "site")
        site_ids = sorted(set(found.values()))
    if not in_scope(None if site_ids is None else tuple(site_ids), who.user.site_ids):
        raise RuleRefusedError(
            "sites: you may only make rules for your own sites, named one by one", status=403
        )
    users = await repository.user_ids_by_name(session, body.users)
    _unknown("users", body.users, users, "enabled user")
    rosters = await repository.roster_ids_by_name(session, body.rosters)
    _unknown("rosters", body.rosters, rosters, "on-call roster")
    return {
        "name": body.name,
        "enabled": body.enabled,
        "site_ids": site_ids,
        "min_priority": body.min_priority,
        "codes": body.codes,
        "events": sorted(set(body.events)),
        "user_ids": sorted(set(users.values())),
        "roster_ids": sorted(set(rosters.values())),
        "channels": sorted(set(body.channels)),
        "escalate_after_s": round(body.escalate_after_minutes * 60),
    }


async def create_rule(session: AsyncSession, body: RuleIn, *, who: Who) -> int:
    """Store a new rule; returns its id."""
    params = await _params(session, body, who)
    rule_id = int((await session.execute(repository.INSERT_RULE, params)).scalar_one())
    who.audit(session, "notification_rule.create", f"rule {rule_id}", rule=body.model_dump())
    return rule_id


async def rule_in_scope(session: AsyncSession, rule_id: int, who: Who) -> RuleOut | None:
    """The rule, if it exists and the caller may manage it (locked for the change)."""
    found = await repository.get_rule(session, rule_id)
    if found is None or not in_scope(found[1], who.user.site_ids):
        return None
    return found[0]


async def replace_rule(session: AsyncSession, rule_id: int, body: RuleIn, *, who: Who) -> None:
    """Replace a rule's every field."""
    params = await _params(session, body, who)
    await session.execute(repository.UPDATE_RULE, {**params, "id": rule_id})
    who.audit(session, "notification_rule.update", f"rule {rule_id}", rule=body.model_dump())


async def delete_rule(session: AsyncSession, rule_id: int, *, who: Who) -> None:
    """Delete a rule."""
    await session.execute(text("DELETE FROM notification_rule WHERE id = :id"), {"id": rule_id})
    who.audit(session, "notification_rule.delete", f"rule {rule_id}")


def _shown(contact: repository.Contact, *, secret: str | None = None) -> ContactOut:
    """Contact details as they may be shown: the Apprise URL masked, the key only when new."""
    return ContactOut(
        email=contact.email,
        webhook_url=contact.webhook_url,
        apprise_url=None if contact.apprise_url is None else masked(contact.apprise_url),
        has_webhook_secret=bool(contact.webhook_secret),
        webhook_secret=secret,
    )


async def save_contact(session: AsyncSession, body: ContactIn, *, who: Who) -> ContactOut:
    """Save the caller's own contact details; a new or changed webhook gets a new key, and an
    Apprise URL left out of the request is kept."""
    old = await repository.contact(session, who.user.user_id)
    url = None if body.webhook_url is None else str(body.webhook_url)
    fresh = url is not None and (
        url != old.webhook_url or body.rotate_webhook_secret or not old.webhook_secret
    )
    secret = (secrets.token_urlsafe(32) if fresh else old.webhook_secret) if url else None
    keep = "apprise_url" not in body.model_fields_set
    saved = repository.Contact(
        body.email, url, secret, old.apprise_url if keep else body.apprise_url
    )
    await session.execute(
        repository.UPSERT_CONTACT,
        {
            "user_id": who.user.user_id,
            "email": saved.email,
            "webhook_url": url,
            "secret": secret,
            "apprise_url": saved.apprise_url,
        },
    )
    who.audit(
        session,
        "notification_contact.update",
        f"user {who.user.username}",
        email=body.email,
        webhook_url=url,
        apprise_url=None if saved.apprise_url is None else masked(saved.apprise_url),
        new_key=fresh,
    )
    return _shown(saved, secret=secret if fresh else None)


async def show_contact(session: AsyncSession, user_id: int) -> ContactOut:
    """The caller's contact details (never the signing key again, the Apprise URL masked)."""
    return _shown(await repository.contact(session, user_id))


TEST_MESSAGE = text("""
INSERT INTO notification_outbox (delivery_id, user_id, channel, target, subject, body_text,
                                 body_html, payload)
VALUES (:delivery_id, :user_id, :channel, :target, :subject, :body, :html,
        CAST(:payload AS jsonb))
""")


async def queue_test(session: AsyncSession, *, who: Who) -> list[UUID]:
    """Queue a test message to each of the caller's channels; their delivery ids."""
    found = await repository.contact(session, who.user.user_id)
    queued = []
    addresses = (
        (Channel.EMAIL, found.email),
        (Channel.WEBHOOK, found.webhook_url),
        (Channel.APPRISE, found.apprise_url),
    )
    for channel, target in addresses:
        if target:
            delivery_id = uuid4()
            body = f"This is a test message from Ridethrough for {who.user.username}."
            await session.execute(
                TEST_MESSAGE,
                {
                    "delivery_id": delivery_id,
                    "user_id": who.user.user_id,
                    "channel": channel,
                    "target": target,
                    "subject": "Ridethrough test message",
                    "body": body,
                    "html": f"<p>{escape(body)}</p>",
                    "payload": orjson.dumps(
                        {"test": True, "delivery_id": str(delivery_id), "message": body}
                    ).decode(),
                },
            )
            queued.append(delivery_id)
    who.audit(
        session,
        "notification_contact.test",
        f"user {who.user.username}",
        deliveries=[str(d) for d in queued],
    )
    return queued
