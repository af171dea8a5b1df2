"""The watchdog: a site that stops sending raises site_offline, and clears when data flows."""

import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.notifications.watchdog import EDGE_SILENT, SITE_OFFLINE, EdgeAge, judge, sweep
from app.sites.service import create_edge_device
from tests.db import psycopg_dsn, query_rows
from tests.edge_process import REFERENCE_MAPPING, edge_env, start_edge, write_site_file
from tests.factories import committed_device_site, make_site
from tests.notifications.polling import poll_rows
from tests.server import live_server

LIMIT_S = 3.0
WATCHDOG = """SELECT state, cleared_at, raised_at, value, threshold FROM alarm
WHERE site_id = %s AND code = 'site_offline' ORDER BY id"""


def stop(edge: subprocess.Popen[str]) -> None:
    """SIGTERM the edge and wait for it."""
    if edge.poll() is None:
        edge.send_signal(signal.SIGTERM)
        edge.communicate(timeout=60)


def last_seen(dsn: str, site_id: int) -> datetime:
    """The newest batch time of the site's edge."""
    rows = poll_rows(
        dsn,
        "SELECT last_seen_at FROM edge_device WHERE site_id = %s",
        site_id,
        until=lambda r: bool(r) and r[0][0] is not None,
    )
    seen: datetime = rows[0][0]
    return seen


async def test_site_offline_is_raised_within_the_limit_and_cleared_when_data_flows(
    engine: AsyncEngine, test_database_url: str, tmp_path: Path
) -> None:
    site = await committed_device_site(engine)
    site_file = write_site_file(
        tmp_path, code=site.code, mapping=REFERENCE_MAPPING, simulator="frame_period_s = 0.25"
    )
    dsn = psycopg_dsn(test_database_url)
    server_env = {
        "RIDETHROUGH_DATABASE_URL": test_database_url,
        "RIDETHROUGH_WATCHDOG_DATA_AGE_S": str(LIMIT_S),
        "RIDETHROUGH_WATCHDOG_INTERVAL_S": "0.5",
    }
    with live_server(server_env) as server:
        env = edge_env(backend=server.url, token=site.token, spool=tmp_path / "spool.sqlite3")
        edge = start_edge(["simulate", "--config", str(site_file)], env)
        try:
            last_seen(dsn, site.site_id)
            assert query_rows(dsn, WATCHDOG, site.site_id) == []  # flowing: no alarm
            stop(edge)
            seen = last_seen(dsn, site.site_id)
            raised = poll_rows(dsn, WATCHDOG, site.site_id, until=bool)
            state, cleared_at, raised_at, value, threshold = raised[0]
            assert (state, cleared_at, threshold) == ("unacked", None, LIMIT_S)
            # Raised once the data is older than the limit, and not much later (two sweeps).
            assert timedelta(seconds=LIMIT_S) < raised_at - seen < timedelta(seconds=LIMIT_S + 10)
            assert value > LIMIT_S
            edge = start_edge(["simulate", "--config", str(site_file)], env)
            cleared = poll_rows(dsn, WATCHDOG, site.site_id, until=lambda r: r[0][1] is not None)
            assert len(cleared) == 1  # the same alarm returned to normal, not a new one
            assert cleared[0][0] == "rtn_unacked"
        finally:
            stop(edge)


def test_judge_names_silent_edges_and_calls_a_site_offline_only_when_all_are() -> None:
    both = [EdgeAge("a", 70.0), EdgeAge("b", 5.0)]
    assert judge(both, 60.0).code == EDGE_SILENT
    assert judge(both, 60.0).silent == ("a",)
    assert judge([EdgeAge("a", 70.0), EdgeAge("b", 90.0)], 60.0).code == SITE_OFFLINE
    assert judge([EdgeAge("a", 60.0)], 60.0).code is None  # at the limit is not over it


async def test_sweep_raises_edge_silent_once_and_clears_it(session: AsyncSession) -> None:
    site = await make_site(session)
    for name in ("edge-a", "edge-b"):
        await create_edge_device(session, site_code=site.code, name=name)
    now = datetime.now(UTC)
    seen = text("UPDATE edge_device SET last_seen_at = :at WHERE site_id = :site AND name = :name")
    await session.execute(
        seen, {"at": now - timedelta(seconds=90), "site": site.site_id, "name": "edge-a"}
    )
    await session.execute(seen, {"at": now, "site": site.site_id, "name": "edge-b"})
    # Other tests' sites in this database may fall silent in the same sweep: count only ours.
    changes = text(
        "SELECT count(*) FROM alarm_notice n JOIN alarm a ON a.id = n.alarm_id "
        "WHERE a.site_id = :site"
    )
    await sweep(session, now=now, limit_s=60.0)
    assert (await session.execute(changes, {"site": site.site_id})).scalar() == 1
    await sweep(session, now=now, limit_s=60.0)  # standing: not raised again
    assert (await session.execute(changes, {"site": site.site_id})).scalar() == 1
    alarms = text(
        "SELECT code, message, occurrences, cleared_at IS NULL FROM alarm WHERE site_id = :site"
    )
    rows = (await session.execute(alarms, {"site": site.site_id})).all()
    assert [tuple(r) for r in rows] == [
        ("edge_silent", "Edge silent: edge-a sent nothing for over 60 s", 1, True)
    ]
    await session.execute(seen, {"at": now, "site": site.site_id, "name": "edge-a"})
    await sweep(session, now=now, limit_s=60.0)
    assert (await session.execute(changes, {"site": site.site_id})).scalar() == 2  # cleared
    rows = (await session.execute(alarms, {"site": site.site_id})).all()
    assert rows[0][3] is False
