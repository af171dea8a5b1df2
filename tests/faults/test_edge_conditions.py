"""Conditions at the edge: its clock off, its spool full during a long outage."""

import asyncio
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn, query_rows
from tests.e2e.test_resilience import batch_seqs
from tests.factories import committed_device_site
from tests.faults.streaming import StreamingSite, assert_matches_truth, until_drained
from tests.ground_truth import recorded_truth, sample_counts, stored
from tests.server import LiveServer, free_port, live_server


def site_alarm(dsn: str, site_id: int, code: str) -> tuple[str, float | None] | None:
    """State and value of the newest alarm of a code on a site."""
    newest = query_rows(
        dsn,
        "SELECT state, value FROM alarm WHERE site_id = %s AND code = %s "
        "ORDER BY raised_at DESC LIMIT 1",
        site_id,
        code,
    )
    return (newest[0][0], newest[0][1]) if newest else None


def rejections(dsn: str, site_id: int) -> list[tuple[str, str, str]]:
    """(section, field, reason) of every row the backend refused for a site."""
    sql = "SELECT section, field, reason FROM ingest_rejection WHERE site_id = %s"
    return [(section, field, reason) for section, field, reason in query_rows(dsn, sql, site_id)]


async def test_edge_clock_skew_is_alarmed_and_far_future_rows_are_refused_not_stored(
    engine: AsyncEngine, server: LiveServer, test_database_url: str, tmp_path: Path
) -> None:
    dsn = psycopg_dsn(test_database_url)
    site = StreamingSite(await committed_device_site(engine), tmp_path)
    site_id = site.site.site_id

    # Two minutes ahead: inside the backend's tolerance, so stored exactly as stamped.
    site.start(server.url, clock_offset_s=120)
    await asyncio.sleep(6)
    site.stop()
    state, offset = site_alarm(dsn, site_id, "edge_clock_skew") or ("none", None)
    assert state == "unacked"
    assert offset is not None
    assert 115 < offset < 125
    exact, run_ends = site.truth()
    assert_matches_truth(stored(dsn, site_id), exact, run_ends)
    assert rejections(dsn, site_id) == []

    # Fifteen minutes ahead: every row refused and recorded with its reason, none stored.
    before = sample_counts(dsn, site_id)
    site.start(server.url, clock_offset_s=900)
    await asyncio.sleep(5)
    site.stop()
    assert sample_counts(dsn, site_id) == before
    refused = rejections(dsn, site_id)
    sent = recorded_truth(site.logs[-1])
    assert len([r for r in refused if r[0] == "modules"]) >= len(sent) - 6
    # The reference BMS also reports the whole system: its rows are refused the same way.
    sections = {"modules", "strings", "systems", "events"}
    assert {(section, field) for section, field, _ in refused} <= {(s, "ts") for s in sections}
    assert all("future" in reason for _, _, reason in refused), refused[:3]

    # The clock corrected: the alarm returns to normal and data flows again.
    site.start(server.url)
    await asyncio.sleep(5)
    site.stop()
    state, offset = site_alarm(dsn, site_id, "edge_clock_skew") or ("none", None)
    assert state == "rtn_unacked"
    assert offset is not None
    assert 895 < offset < 905  # the worst offset seen while it was open
    assert sample_counts(dsn, site_id)[0] > before[0]


async def test_a_full_spool_drops_the_oldest_counts_alarms_and_stays_bounded(
    engine: AsyncEngine, test_database_url: str, tmp_path: Path
) -> None:
    dsn = psycopg_dsn(test_database_url)
    # About a dozen one-second batches fit in 16 KiB.
    site = StreamingSite(await committed_device_site(engine), tmp_path, spool_max_mb=1 / 64)
    port = free_port()
    server_env = {"RIDETHROUGH_DATABASE_URL": test_database_url}
    with live_server(server_env, port=port):
        site.start(f"http://127.0.0.1:{port}")
        await asyncio.sleep(4)
    await asyncio.sleep(30)  # the backend away: the spool fills and drops its oldest
    assert site.spool_bytes() <= 16 * 1024
    with live_server(server_env, port=port):
        await until_drained([site])
        await asyncio.sleep(2)
        site.stop()

    dropped = site.spool_dropped()
    assert dropped >= 10
    seqs = batch_seqs(dsn, site.site)
    lost = sorted(set(range(1, seqs[-1] + 1)) - set(seqs))
    assert len(lost) == dropped  # exactly the batches the edge counted as dropped
    assert lost == list(range(lost[0], lost[0] + dropped))  # the oldest of the backlog
    alarm = site_alarm(dsn, site.site.site_id, "edge_spool_overflow")
    assert alarm is not None
    assert alarm[1] == dropped
    # What was not dropped arrived once and exactly as sent; what is missing is one run of
    # seconds, bounded by the dropped batches (a batch holds the one or two periods that
    # closed since the last).
    rows, keys = sample_counts(dsn, site.site.site_id)
    assert rows == keys
    exact, run_ends = site.truth()
    samples = stored(dsn, site.site.site_id)
    missing_seconds = {second for _, _, second in set(exact) - set(samples)}
    assert 0 < len(missing_seconds) <= 2 * dropped
    assert sorted(missing_seconds) == list(range(min(missing_seconds), max(missing_seconds) + 1))
    kept = {key: cells for key, cells in exact.items() if key[2] not in missing_seconds}
    assert_matches_truth(samples, kept, run_ends | exact)
