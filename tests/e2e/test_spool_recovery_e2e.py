"""The edge's spool in trouble, with real edge processes, files and backends: a corrupt spool
is moved aside and the edge keeps collecting, with an alarm; batches the backend refused wait
as dead letters, shown on the site page, until `python -m edge spool resend` after the fix."""

import asyncio
import re
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn, query_rows
from tests.e2e.test_resilience import FAST_SIM, batch_seqs, stop_edge
from tests.edge_process import REFERENCE_MAPPING, edge_env, run_edge, start_edge, write_site_file
from tests.factories import committed_device_site
from tests.server import LiveServer, free_port, live_server

GARBAGE = b"\x00\x01 not a spool \xfe\xff" * 4096


async def until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Wait until `check()` holds; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.5)


def edge_row(page: str) -> str:
    """The edge collectors table's row of the test device, as text."""
    row = re.search(r'<tr class="edge[^"]*">(.*?)</tr>', page, re.S)
    assert row is not None, page
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row[1])).strip()


async def test_a_corrupt_spool_is_moved_aside_and_the_edge_keeps_collecting(
    engine: AsyncEngine, server: LiveServer, test_database_url: str, tmp_path: Path
) -> None:
    site = await committed_device_site(engine)
    spool = tmp_path / "spool.sqlite3"
    spool.write_bytes(GARBAGE)  # what a power cut on a bad SD card leaves
    site_file = write_site_file(
        tmp_path, code=site.code, mapping=REFERENCE_MAPPING, simulator=FAST_SIM
    )
    env = edge_env(backend=server.url, token=site.token, spool=spool)
    edge = start_edge(["simulate", "--config", str(site_file)], env)
    dsn = psycopg_dsn(test_database_url)
    alarm_sql = (
        "SELECT state, value, message FROM alarm WHERE site_id = %s "
        "AND code = 'edge_spool_quarantined'"
    )
    try:
        await until(lambda: len(batch_seqs(dsn, site)) >= 3, 30, "batches from the fresh spool")
        await until(lambda: bool(query_rows(dsn, alarm_sql, site.site_id)), 10, "the alarm")
        page = server.http.get(f"/sites/{site.code}").text
    finally:
        output = stop_edge(edge)
    assert "is corrupt: moved to spool.sqlite3.corrupt-" in output
    assert kept_aside(tmp_path) == [GARBAGE]  # kept as found, for inspection
    assert query_rows(dsn, alarm_sql, site.site_id) == [
        ("unacked", 1.0, "Edge spool corrupt: quarantined (1 spool files kept aside)")
    ]
    # The site page's last columns: dropped when full, dead letters, quarantined files.
    assert edge_row(page).split()[-3:] == ["0", "0", "1"]


def dead_letters(spool: Path) -> int:
    """Dead letters in the edge's spool file (read while the edge runs: WAL allows it); 0
    before the edge has made it."""
    try:
        with closing(sqlite3.connect(f"file:{spool}?mode=ro", uri=True)) as db:
            return int(db.execute("SELECT count(*) FROM dead").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def kept_aside(directory: Path) -> list[bytes]:
    """The contents of the spool files moved aside in a directory."""
    return [path.read_bytes() for path in directory.glob("spool.sqlite3.corrupt-*")]


def site_page_row(server: LiveServer, code: str) -> list[str]:
    """The site page's edge row's last columns: dropped when full, dead letters, quarantined."""
    return edge_row(server.http.get(f"/sites/{code}").text).split()[-3:]


async def test_refused_batches_wait_as_dead_letters_until_resent_after_the_fix(
    engine: AsyncEngine, test_database_url: str, tmp_path: Path
) -> None:
    site = await committed_device_site(engine)
    spool = tmp_path / "spool.sqlite3"
    site_file = write_site_file(
        tmp_path, code=site.code, mapping=REFERENCE_MAPPING, simulator=FAST_SIM
    )
    port = free_port()
    env = edge_env(
        backend=f"http://127.0.0.1:{port}",
        token=site.token,
        spool=spool,
        RIDETHROUGH_EDGE_SITE_CONFIG=str(site_file),
    )
    backend = {"RIDETHROUGH_DATABASE_URL": test_database_url}
    # A backend whose body limit is set too low refuses every batch as a whole (413).
    with live_server({**backend, "RIDETHROUGH_INGEST_MAX_BYTES": "1024"}, port=port):
        edge = start_edge(["simulate", "--config", str(site_file)], env)
        await until(lambda: dead_letters(spool) >= 3, 30, "refused batches")
    with closing(sqlite3.connect(spool)) as db:
        refused = {seq for (seq,) in db.execute("SELECT seq FROM dead")}
    dsn = psycopg_dsn(test_database_url)
    try:
        with live_server(backend, port=port) as fixed:  # the limit fixed
            await until(lambda: bool(batch_seqs(dsn, site)), 60, "live batches after the fix")
            before = site_page_row(fixed, site.code)
            resend = run_edge(["spool", "resend"], env)
            assert resend.returncode == 0, resend.stdout + resend.stderr
            await until(lambda: refused <= set(batch_seqs(dsn, site)), 60, "the resent batches")
            await until(
                lambda: site_page_row(fixed, site.code) == ["0", "0", "0"],
                20,
                "no dead letters left on the site page",
            )
            status = run_edge(["spool", "status"], env)
    finally:
        stop_edge(edge)
    # Before the re-send the site page showed them (dropped, dead letters, quarantined).
    assert before == ["0", str(len(refused)), "0"]
    assert resend.stdout.startswith(f"re-queued {len(refused)} dead letters: ")
    assert "dead letters: 0 kept (at most 1000), 0 dropped past that" in status.stdout
    assert dead_letters(spool) == 0
