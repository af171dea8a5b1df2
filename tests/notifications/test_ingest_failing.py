"""A database failure that stops ingest raises ingest_failing through the normal lifecycle (and
its e-mail), and clears when batches are stored again: a real lock on the samples table makes
real inserts run past the statement timeout."""

from datetime import timedelta

import psycopg
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn, query_rows
from tests.notifications.polling import poll_rows
from tests.notifications.receivers import smtp_server
from tests.notifications.test_delivery import backend_env
from tests.notifications.world import recipient, rule, site_on
from tests.server import live_server
from tests.wire import T0, batch, full_site_rows, post_batch

ALARM = """SELECT state, priority, value, message, cleared_at FROM alarm
WHERE site_id = %s AND code = 'ingest_failing'"""


async def test_batches_refused_by_a_locked_table_raise_ingest_failing_until_one_is_stored(
    notify_engine: AsyncEngine, notify_db: str
) -> None:
    dsn = psycopg_dsn(notify_db)
    site = await site_on(notify_engine)
    keeper = recipient(dsn, f"keeper-{site.code}", email="keeper@example.com")
    rule(dsn, users=[keeper.user_id], channels=["email"], sites=[site.site_id], min_priority=2)
    with smtp_server() as (mailbox, port):
        env = backend_env(notify_db, port, RIDETHROUGH_DB_STATEMENT_TIMEOUT_S="1")
        with live_server(env) as server:
            first = post_batch(server, site.token, batch(site.code, 1, **full_site_rows(T0)))
            assert first.status_code == 200, first.text
            with psycopg.connect(dsn) as lock:  # a long maintenance job holding the table
                lock.execute("LOCK TABLE module_sample IN ACCESS EXCLUSIVE MODE")
                for seq in (2, 3):
                    rows = full_site_rows(T0 + timedelta(seconds=seq))
                    refused = post_batch(server, site.token, batch(site.code, seq, **rows))
                    assert refused.status_code == 503, refused.text
                assert query_rows(dsn, ALARM, site.site_id) == []  # two is not yet a pattern
                rows = full_site_rows(T0 + timedelta(seconds=4))
                assert (
                    post_batch(server, site.token, batch(site.code, 4, **rows)).status_code == 503
                )
                state, priority, value, message, cleared_at = query_rows(dsn, ALARM, site.site_id)[
                    0
                ]
                assert (state, priority, value, cleared_at) == ("unacked", 2, 3.0, None)
                assert "3 batches in a row failed to store (QueryCanceled" in message
                lock.rollback()
            rows = full_site_rows(T0 + timedelta(seconds=5))
            stored = post_batch(server, site.token, batch(site.code, 5, **rows))
            assert stored.status_code == 200, stored.text
            state, *_, cleared_at = query_rows(dsn, ALARM, site.site_id)[0]
            assert (state, cleared_at is not None) == ("rtn_unacked", True)
            poll_rows(
                dsn,
                "SELECT state FROM notification_outbox WHERE user_id = %s",
                keeper.user_id,
                until=lambda found: found == [("sent",)],
            )
    subjects = [m["Subject"] for _, m in mailbox.snapshot()]
    assert len(subjects) == 1
    assert subjects[0].startswith("[high] Ingest failing raised")
