"""Delivery from the outbox: claim one due message, send it, record the outcome.

The claim (FOR UPDATE SKIP LOCKED) is held while sending, so two processes never send the same
message; a process that dies mid-send releases it and another sends it again with the same
delivery id (at least once, recognisably). Failures back off exponentially; after the last
attempt the message is marked failed and raises notification_failed on its site.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms.catalogue import describe
from app.alarms.repository import AlarmSource, clear_alarm, raise_alarm
from app.notifications.channels import DeliveryError, Outgoing

FAILED_CODE = "notification_failed"
Sender = Callable[[Outgoing], Awaitable[None]]

CLAIM_DUE = text("""
SELECT o.id, o.attempts, o.delivery_id, o.channel, o.target, o.subject, o.body_text,
       o.body_html, o.payload, c.webhook_secret
FROM notification_outbox o LEFT JOIN notification_contact c ON c.user_id = o.user_id
WHERE o.state = 'pending' AND o.next_attempt_at <= :now
ORDER BY o.next_attempt_at, o.id LIMIT 1
FOR UPDATE OF o SKIP LOCKED
""")

MARK_SENT = text("""
UPDATE notification_outbox SET state = 'sent', sent_at = :now, attempts = attempts + 1,
       last_error = NULL
WHERE id = :id
""")

MARK_FAILED_ATTEMPT = text("""
UPDATE notification_outbox SET attempts = attempts + 1, last_error = :error,
       next_attempt_at = :next, state = CASE WHEN :final THEN 'failed' ELSE 'pending' END
WHERE id = :id
""")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a message is retried."""

    max_attempts: int
    backoff_s: float

    def delay(self, attempt: int) -> timedelta:
        """The wait after failed attempt number `attempt` (1-based): doubling each time."""
        return timedelta(seconds=self.backoff_s * 2 ** (attempt - 1))


async def deliver_one(
    session: AsyncSession, *, now: datetime, senders: Mapping[str, Sender], policy: RetryPolicy
) -> bool:
    """Send one due message; False when none is due (or all due ones are being sent)."""
    row = (await session.execute(CLAIM_DUE, {"now": now})).first()
    if row is None:
        return False
    outbox_id, attempts, *fields = row
    message = Outgoing(*fields)
    site_id = message.payload.get("site_id")
    try:
        await senders[message.channel](message)
    except DeliveryError as exc:
        attempt = attempts + 1
        final = exc.permanent or attempt >= policy.max_attempts
        await session.execute(
            MARK_FAILED_ATTEMPT,
            {
                "id": outbox_id,
                "error": str(exc)[:500],
                "final": final,
                "next": now + policy.delay(attempt),
            },
        )
        if final and isinstance(site_id, int):
            await _raise_failed(
                session, site_id, message, attempts=attempt, error=str(exc), now=now
            )
        return True
    await session.execute(MARK_SENT, {"id": outbox_id, "now": now})
    if isinstance(site_id, int):
        await clear_alarm(session, AlarmSource(site_id), code=FAILED_CODE, ts=now)
    return True


async def _raise_failed(
    session: AsyncSession,
    site_id: int,
    message: Outgoing,
    *,
    attempts: int,
    error: str,
    now: datetime,
) -> None:
    entry = describe(FAILED_CODE)
    await raise_alarm(
        session,
        AlarmSource(site_id),
        code=FAILED_CODE,
        priority=entry.priority,
        ts=now,
        message=f"{entry.title}: {message.channel} to {message.target} failed after "
        f"{attempts} attempt(s): {error[:200]}",
        value=attempts,
    )
