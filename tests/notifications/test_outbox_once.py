"""Delivery never lost and never doubled: a backend killed mid-send, two backends at once."""

import signal
import threading

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn, query_rows
from tests.notifications.polling import DEADLINE_S, poll_rows
from tests.notifications.receivers import smtp_server
from tests.notifications.test_delivery import OUTBOX, all_done, backend_env
from tests.notifications.world import raise_cell_alarm, recipient, rule, site_on
from tests.server import free_port, live_server

ALARMS = 24


def wait(event: threading.Event) -> None:
    """Wait for the event, failing at the deadline."""
    assert event.wait(DEADLINE_S), "the backend never started sending"


async def test_a_backend_killed_mid_send_sends_once_after_restart(
    notify_engine: AsyncEngine, notify_db: str
) -> None:
    dsn = psycopg_dsn(notify_db)
    site = await site_on(notify_engine)
    with smtp_server() as (mailbox, smtp_port):
        frank = recipient(dsn, "frank", email="frank@example.com")
        rule(dsn, users=[frank.user_id], channels=["email"], sites=[site.site_id])
        env, port = backend_env(notify_db, smtp_port), free_port()
        mailbox.hold = True  # the SMTP server keeps the first DATA unanswered
        with live_server(env, port=port) as first:
            await raise_cell_alarm(notify_engine, site)  # committed: the notice is written
            wait(mailbox.holding)  # the backend holds the claim, mid-send
            first.process.send_signal(signal.SIGKILL)
            first.process.wait(timeout=30)
        assert mailbox.snapshot() == []
        assert [row[2:4] for row in query_rows(dsn, OUTBOX)] == [("pending", 0)]
        mailbox.hold = False
        mailbox.release.set()
        with live_server(env, port=port):
            rows = poll_rows(dsn, OUTBOX, until=all_done)
        mails = mailbox.snapshot()
    assert [row[2:4] for row in rows] == [("sent", 1)]  # the killed attempt never counted
    assert len(mails) == 1
    assert mails[0][1]["X-Ridethrough-Delivery"] == rows[0][4]


async def test_two_backends_send_each_message_once(
    notify_engine: AsyncEngine, notify_db: str
) -> None:
    dsn = psycopg_dsn(notify_db)
    site = await site_on(notify_engine)
    with smtp_server() as (mailbox, smtp_port):
        grace = recipient(dsn, "grace", email="grace@example.com")
        rule(dsn, users=[grace.user_id], channels=["email"], sites=[site.site_id])
        # Two worker processes start slower than one on a loaded machine.
        # Many alarms at one site would be a flood (one digest): this is about each message.
        env = backend_env(notify_db, smtp_port, RIDETHROUGH_FLOOD_ALARMS=str(ALARMS * 10))
        with live_server(env, workers=2, startup_timeout_s=300) as running:
            for cell in range(ALARMS):
                await raise_cell_alarm(notify_engine, site, cell=cell, code=f"test_fault_{cell}")
            sql = OUTBOX + " WHERE user_id = %s"
            rows = poll_rows(
                dsn, sql, grace.user_id, until=lambda r: len(r) == ALARMS and all_done(r)
            )
            assert running.process.poll() is None
        mails = mailbox.snapshot()
    assert {row[2:4] for row in rows} == {("sent", 1)}
    delivered = sorted(m["X-Ridethrough-Delivery"] for _, m in mails)
    assert delivered == sorted(row[4] for row in rows)  # each once: no duplicate, none lost
