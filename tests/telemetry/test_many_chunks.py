"""A range of thousands of chunks (one batch with weekly timestamps made 3,000): exports read it
slice by slice and retention drops it in bounded steps, where both used to run out of locks."""

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from pydantic import PostgresDsn
from sqlalchemy.ext.asyncio import AsyncEngine

from app.api.export import Format, export_bytes
from app.config import Settings
from app.core.db import (
    EXPORT_APPLICATION_NAME,
    create_engine,
    create_export_engine,
    create_sessionmaker,
)
from app.jobs import retention_once
from app.telemetry.export_query import Entity, Resolution, Selection
from tests.db import psycopg_dsn
from tests.factories import DeviceSite, committed_device_site

CHUNKS = 3_000  # what the batch made; dropping them at once exceeds the lock table
PER_QUERY = 50
PER_STEP = 20
OLDEST_AGE = timedelta(days=40)  # every chunk is past the 30-day raw retention

FILL = """
INSERT INTO module_sample (module_id, ts, cell_v, cell_v_min, cell_v_max, cell_v_avg,
                           cell_v_min_idx, cell_v_max_idx, temp_c, soc_pct)
SELECT %(module)s, %(newest)s - g * interval '7 days', ARRAY[3.3]::real[], 3.3, 3.3, 3.3, 0, 0,
       ARRAY[]::real[], g %% 100
FROM generate_series(0, %(n)s - 1) g
"""
EXPORT_LOCKS = """
SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE a.application_name = %s AND a.datname = current_database()
"""


@pytest.fixture(scope="module")
def settings(test_database_url: str) -> Settings:
    """Small slices and steps, so that the bounds show on a few thousand chunks."""
    return Settings(
        _env_file=None,
        database_url=PostgresDsn(test_database_url),
        export_chunks_per_query=PER_QUERY,
        retention_chunks_per_step=PER_STEP,
    )


@pytest.fixture
async def weekly(engine: AsyncEngine, test_database_url: str) -> DeviceSite:
    """A site whose first module has one sample a week, each in a chunk of its own."""
    site = await committed_device_site(engine)
    with psycopg.connect(psycopg_dsn(test_database_url), autocommit=True) as conn:
        newest = datetime.now(UTC) - OLDEST_AGE
        conn.execute(FILL, {"module": site.module_ids[0], "newest": newest, "n": CHUNKS})
    return site


def chunk_count(url: str, older_than: timedelta) -> int:
    """module_sample chunks that end before now - older_than."""
    with psycopg.connect(psycopg_dsn(url)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = "
            "'module_sample' AND range_end < now() - %s",
            (older_than,),
        ).fetchone()
    assert row is not None
    return int(row[0])


async def test_export_and_retention_over_thousands_of_chunks(
    weekly: DeviceSite, settings: Settings, test_database_url: str
) -> None:
    site = weekly
    assert chunk_count(test_database_url, OLDEST_AGE) >= CHUNKS - 1
    start = datetime.now(UTC) - OLDEST_AGE - timedelta(weeks=CHUNKS + 1)
    selection = Selection(
        site_id=site.site_id,
        entity=Entity.MODULE,
        resolution=Resolution.RAW,
        fields=("soc_pct",),
        start=start,
        end=datetime.now(UTC),
    )
    engine = create_export_engine(settings)
    most_locks, body = 0, b""
    with psycopg.connect(psycopg_dsn(test_database_url), autocommit=True) as watcher:
        chunks = export_bytes(
            create_sessionmaker(engine),
            selection,
            Format.CSV,
            long=False,
            chunks_per_query=PER_QUERY,
        )
        async for data in chunks:
            body += data
            row = watcher.execute(EXPORT_LOCKS, (EXPORT_APPLICATION_NAME,)).fetchone()
            most_locks = max(most_locks, row[0] if row else 0)
    await engine.dispose()
    lines = body.decode().splitlines()
    assert lines[0] == "ts,string,module,soc_pct"
    assert len(lines) == CHUNKS + 1  # every weekly sample, once
    assert len({line.split(",")[0] for line in lines[1:]}) == CHUNKS
    # One slice's chunks (and their indexes) at a time, never the 3,000 at once.
    assert 0 < most_locks <= 4 * (PER_QUERY + 1) + 40, most_locks

    # Retention: 3,000 chunks past their age, dropped in steps of PER_STEP per transaction.
    engine = create_engine(settings)
    dropped = await retention_once(create_sessionmaker(engine), settings)
    await engine.dispose()
    assert dropped["module_sample"] >= CHUNKS
    assert chunk_count(test_database_url, timedelta(days=settings.raw_retention_days)) == 0
