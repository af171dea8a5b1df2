"""Test database helpers: create, migrate and drop databases on the project's cluster."""

import os
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from psycopg import sql
from sqlalchemy.engine import make_url

from app.config import DEV_DATABASE_URL, PROJECT_ROOT

# The cluster the tests use; `make test` starts the project's own (scripts/db.sh).
BASE_URL = os.environ.get("RIDETHROUGH_TEST_DATABASE_URL", DEV_DATABASE_URL)


def database_url(name: str) -> str:
    """The SQLAlchemy URL of database `name` on the test cluster."""
    return make_url(BASE_URL).set(database=name).render_as_string(hide_password=False)


def _admin_dsn() -> str:
    url = make_url(BASE_URL).set(drivername="postgresql", database="postgres")
    return url.render_as_string(hide_password=False)


def recreate_database(name: str, *, timescaledb: bool = True) -> str:
    """Drop and create an empty database (optionally with timescaledb); returns its URL."""
    with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    if timescaledb:
        with psycopg.connect(psycopg_dsn(database_url(name)), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    return database_url(name)


def drop_database(name: str) -> None:
    """Drop a test database if it exists."""
    with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def alembic_config(url: str) -> Config:
    """An Alembic config aimed at `url`, quiet (no logging reconfiguration)."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision`."""
    command.upgrade(alembic_config(url), revision)


def psycopg_dsn(url: str) -> str:
    """A libpq DSN for a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def query_rows(dsn: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """The rows of one query, on a connection of its own (what a test reads back)."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()
