"""The demo's subscription: one person told by e-mail of every high-priority alarm."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

DEMO_RULE = "demo: high-priority alarms by e-mail"

SET_EMAIL = text("""
INSERT INTO notification_contact (user_id, email)
SELECT id, :email FROM app_user WHERE username = :username
ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, updated_at = now()
RETURNING user_id
""")

ADD_RULE = text("""
INSERT INTO notification_rule (name, min_priority, events, user_ids, channels)
SELECT :name, 2, '{raised}', ARRAY[:user_id], '{email}'
WHERE NOT EXISTS (SELECT 1 FROM notification_rule WHERE name = :name)
""")


async def subscribe_demo_user(session: AsyncSession, *, username: str, email: str) -> None:
    """Give the user this e-mail address and the demo rule (idempotent)."""
    user_id = (await session.execute(SET_EMAIL, {"username": username, "email": email})).scalar()
    if user_id is None:
        raise ValueError(f"no user {username!r}: create it first (create-user)")
    await session.execute(ADD_RULE, {"name": DEMO_RULE, "user_id": user_id})
