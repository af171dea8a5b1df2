"""Alarm notifications end to end: a real backend, a real SMTP server, a real HTTP receiver."""

import hashlib
import hmac
import json
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from app.alarms.catalogue import describe
from tests.db import psycopg_dsn, query_rows
from tests.notifications.polling import poll_rows
from tests.notifications.receivers import smtp_server, webhook_receiver
from tests.notifications.world import raise_cell_alarm, recipient, rule, site_on
from tests.server import live_server

PUBLIC_URL = "http://ridethrough.example"
OUTBOX = "SELECT user_id, channel, state, attempts, delivery_id::text FROM notification_outbox"


def backend_env(database_url: str, smtp_port: int, **extra: str) -> dict[str, str]:
    """A backend that works its outbox often and mails the test's SMTP server."""
    return {
        "RIDETHROUGH_DATABASE_URL": database_url,
        "RIDETHROUGH_SMTP_PORT": str(smtp_port),
        "RIDETHROUGH_NOTIFY_INTERVAL_S": "0.2",
        "RIDETHROUGH_PUBLIC_URL": PUBLIC_URL,
        "RIDETHROUGH_WATCHDOG_INTERVAL_S": "3600",
        **extra,
    }


def all_done(rows: list[tuple[object, ...]]) -> bool:
    """Every outbox row has reached a final state."""
    return bool(rows) and all(row[2] != "pending" for row in rows)


def text_part(message: EmailMessage) -> str:
    """The plain-text body."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_part(message: EmailMessage) -> str:
    """The HTML body."""
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


async def test_an_alarm_reaches_each_subscriber_once_by_mail_and_signed_webhook(
    notify_engine: AsyncEngine, notify_db: str, tmp_path: Path
) -> None:
    dsn = psycopg_dsn(notify_db)
    site, other = await site_on(notify_engine), await site_on(notify_engine)
    with smtp_server() as (mailbox, smtp_port), webhook_receiver() as (hooks, hook_url):
        alice = recipient(dsn, "alice", email="alice@example.com", webhook=hook_url)
        bob = recipient(dsn, "bob", email="bob@example.com")
        # Carol may not see the site; Dave is in no rule.
        carol = recipient(dsn, "carol", email="carol@example.com", sites=[other.site_id])
        recipient(dsn, "dave", email="dave@example.com")
        rule(
            dsn,
            users=[alice.user_id, bob.user_id, carol.user_id],
            channels=["email", "webhook"],
            sites=[site.site_id],
            min_priority=2,
        )
        with live_server(backend_env(notify_db, smtp_port)):
            # Below the rule's priority: nobody is told.
            await raise_cell_alarm(notify_engine, site, code="cell_ov_warning", priority=3)
            await raise_cell_alarm(notify_engine, site)
            poll_rows(dsn, OUTBOX, until=lambda rows: len(rows) == 3 and all_done(rows))
        outbox = query_rows(dsn, OUTBOX + " ORDER BY user_id, channel")
        assert [row[:4] for row in outbox] == [
            (alice.user_id, "email", "sent", 1),
            (alice.user_id, "webhook", "sent", 1),
            (bob.user_id, "email", "sent", 1),
        ]
        mails = mailbox.snapshot()
        assert sorted(to for to, _ in mails) == [["alice@example.com"], ["bob@example.com"]]
        assert {m["X-Ridethrough-Delivery"] for _, m in mails} == {outbox[0][4], outbox[2][4]}
        (alarm_id,) = query_rows(
            dsn, "SELECT id FROM alarm WHERE code = 'cell_ov_alarm' AND site_id = %s", site.site_id
        )[0]
        check_mail(mails[0][1], site.code, site.name, alarm_id)
        check_webhook(hooks.snapshot(), alice.secret, outbox[1][4], site.code)


def check_mail(mail: EmailMessage, site_code: str, site_name: str, alarm_id: int) -> None:
    """The alarm in plain language: where, the reading against its limit, what to do, a link."""
    entry = describe("cell_ov_alarm")
    assert (
        mail["Subject"] == f"[high] {entry.title} raised: {site_name}, String 1, module 1, cell 7"
    )
    body = text_part(mail)
    assert "Reading: 3.71 V (limit 3.65 V)" in body
    assert f"What to do: {entry.operator_action}" in body
    link = f"{PUBLIC_URL}/alarms?site={site_code}#alarm-{alarm_id}"
    assert link in body
    html = html_part(mail)
    assert f'<a href="{link}">Open the alarm</a>' in html
    assert entry.operator_action in html


def check_webhook(
    requests: list[tuple[dict[str, str], bytes]], secret: str, delivery_id: str, site_code: str
) -> None:
    """One request, signed over its exact body with the recipient's key, naming the delivery."""
    assert len(requests) == 1
    headers, body = requests[0]
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Ridethrough-Signature"], expected)
    assert headers["X-Ridethrough-Delivery"] == delivery_id
    payload = json.loads(body)
    assert (payload["delivery_id"], payload["site"], payload["code"], payload["event"]) == (
        delivery_id,
        site_code,
        "cell_ov_alarm",
        "raised",
    )
    assert payload["operator_action"] == describe("cell_ov_alarm").operator_action


async def test_a_receiver_answering_500_is_retried_then_alarmed(
    notify_engine: AsyncEngine, notify_db: str
) -> None:
    dsn = psycopg_dsn(notify_db)
    site = await site_on(notify_engine)
    with smtp_server() as (_, smtp_port), webhook_receiver() as (hooks, hook_url):
        hooks.statuses = [500, 500, 500]
        erin = recipient(dsn, "erin", webhook=hook_url)
        # Only the cell alarm: the notification_failed alarm this raises would be told too.
        rule(
            dsn,
            users=[erin.user_id],
            channels=["webhook"],
            sites=[site.site_id],
            codes=["cell_ov_alarm"],
        )
        env = backend_env(
            notify_db,
            smtp_port,
            RIDETHROUGH_NOTIFY_MAX_ATTEMPTS="3",
            RIDETHROUGH_NOTIFY_BACKOFF_S="0.3",
        )
        with live_server(env):
            await raise_cell_alarm(notify_engine, site)
            failed = poll_rows(dsn, OUTBOX + " WHERE user_id = %s", erin.user_id, until=all_done)
            alarm = poll_rows(
                dsn,
                "SELECT state, message FROM alarm WHERE site_id = %s "
                "AND code = 'notification_failed'",
                site.site_id,
                until=bool,
            )
    assert [row[2:4] for row in failed] == [("failed", 3)]
    requests = hooks.snapshot()
    assert len(requests) == 3  # three attempts, then it gave up
    assert {headers["X-Ridethrough-Delivery"] for headers, _ in requests} == {failed[0][4]}
    assert alarm[0][0] == "unacked"
    assert f"webhook to {hook_url} failed after 3 attempt(s)" in alarm[0][1]
    assert "answered 500" in alarm[0][1]
