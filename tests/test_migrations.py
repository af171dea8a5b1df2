"""Migrations: upgrade, downgrade and upgrade again on a real TimescaleDB; models match them."""

from collections.abc import Iterator

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from app.core.registry import metadata
from tests.db import alembic_config, drop_database, psycopg_dsn, recreate_database

DB = "ridethrough_migrations_test"
HYPERTABLES = {"module_sample", "rack_sample", "module_sample_1m", "rack_sample_1m"}
TABLES = {
    "site", "edge_device", "rack", "module", "module_sample", "rack_sample", "module_latest",
    "rack_latest", "alarm", "isolation", "command", "audit_log", "ingest_batch",
    "ingest_rejection", "rollup_dirty", "module_sample_1m", "rack_sample_1m", "rack_spread_1d",
}  # fmt: skip


@pytest.fixture(scope="module")
def empty_db() -> Iterator[str]:
    """A database with only the timescaledb extension."""
    yield recreate_database(DB)
    drop_database(DB)


def hypertables(url: str) -> set[str]:
    """Hypertables as TimescaleDB itself lists them."""
    with psycopg.connect(psycopg_dsn(url)) as conn:
        rows = conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables")
        return {name for (name,) in rows}


def tables(url: str) -> set[str]:
    """Ordinary and partitioned tables in the public schema."""
    with psycopg.connect(psycopg_dsn(url)) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {name for (name,) in rows}


def test_upgrade_downgrade_upgrade(empty_db: str) -> None:
    config = alembic_config(empty_db)

    command.upgrade(config, "head")
    assert tables(empty_db) >= TABLES
    assert hypertables(empty_db) == HYPERTABLES

    command.downgrade(config, "base")
    assert tables(empty_db) == {"alembic_version"}
    assert hypertables(empty_db) == set()

    command.upgrade(config, "head")
    assert hypertables(empty_db) == HYPERTABLES


def test_models_match_migrations(empty_db: str) -> None:
    command.upgrade(alembic_config(empty_db), "head")
    engine = create_engine(empty_db)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    engine.dispose()
    assert diff == []


def test_timescaledb_extension_is_present(empty_db: str) -> None:
    with psycopg.connect(psycopg_dsn(empty_db)) as conn:
        row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
        version = row.fetchone()
    assert version is not None, "the test database lacks the timescaledb extension"
    major, minor = (int(part) for part in version[0].split(".")[:2])
    assert (major, minor) >= (2, 13)


def test_latest_state_tables_leave_room_for_in_place_updates(empty_db: str) -> None:
    command.upgrade(alembic_config(empty_db), "head")
    with psycopg.connect(psycopg_dsn(empty_db)) as conn:
        rows = conn.execute(
            "SELECT relname, reloptions FROM pg_class "
            "WHERE relname IN ('module_latest', 'rack_latest') ORDER BY relname"
        ).fetchall()
    assert rows == [("module_latest", ["fillfactor=50"]), ("rack_latest", ["fillfactor=50"])]
