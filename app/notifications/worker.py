"""The notification worker of one app process: fan notices out, then work the outbox."""

import functools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.notifications.apprise_channel import send_apprise
from app.notifications.channels import SmtpServer, send_email, send_webhook
from app.notifications.escalation import escalate
from app.notifications.fanout import FanOut, fan_out
from app.notifications.flood import ChatterPolicy, FloodPolicy
from app.notifications.outbox import RetryPolicy, Sender, deliver_one
from app.notifications.rules import Channel

MAX_SENDS_PER_RUN = 200  # then the other jobs get a turn; the rest goes next interval


def senders(settings: Settings) -> Mapping[str, Sender]:
    """The channels as the settings configure them."""
    smtp = SmtpServer(
        settings.smtp_host, settings.smtp_port, settings.smtp_from, settings.notify_timeout_s
    )
    return {
        Channel.EMAIL: functools.partial(send_email, smtp),
        Channel.WEBHOOK: functools.partial(send_webhook, timeout_s=settings.notify_timeout_s),
        Channel.APPRISE: functools.partial(send_apprise, timeout_s=settings.notify_timeout_s),
    }


def retry_policy(settings: Settings) -> RetryPolicy:
    """Attempts and back-off from the settings."""
    return RetryPolicy(settings.notify_max_attempts, settings.notify_backoff_s)


def utc_now() -> datetime:
    """The wall clock, in UTC (tests pass their own clock instead)."""
    return datetime.now(UTC)


async def notify_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: Callable[[], datetime] = utc_now,
) -> int:
    """Fan out every pending notice, escalate what is due, then send what is due; returns
    messages handled."""
    while True:
        async with sessionmaker() as session, session.begin():
            flood = FloodPolicy(settings.flood_alarms, settings.flood_window_s)
            chatter = ChatterPolicy(settings.chatter_raises, settings.chatter_window_s)
            how = FanOut(settings.public_url, settings.notify_max_age_s, flood, clock(), chatter)
            if not await fan_out(session, how):
                break
    while True:
        async with sessionmaker() as session, session.begin():
            if not await escalate(session, now=clock(), public_url=settings.public_url):
                break
    channels, policy = senders(settings), retry_policy(settings)
    for handled in range(MAX_SENDS_PER_RUN):
        async with sessionmaker() as session, session.begin():
            if not await deliver_one(session, now=clock(), senders=channels, policy=policy):
                return handled
    return MAX_SENDS_PER_RUN
