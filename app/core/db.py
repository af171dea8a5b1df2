"""Async engine and sessions; the request's session dependency owns the transaction."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import Settings

# How the connections show in pg_stat_activity (an operator tells the exports' from the rest).
APPLICATION_NAME = "ridethrough"
EXPORT_APPLICATION_NAME = "ridethrough-export"


def session_options(
    *, statement_timeout_s: float, idle_in_transaction_s: float, application_name: str
) -> str:
    """The libpq `options` every connection starts with."""
    # Times are always UTC in the database session; display converts per site. Commits are on
    # disk before they are answered, whatever the server's default (the dev cluster runs with
    # synchronous_commit off): an edge deletes a batch it is told is stored. The timeouts end
    # a runaway statement or an abandoned transaction on the server, releasing its locks.
    return (
        f"-c application_name={application_name} -c timezone=UTC -c synchronous_commit=on "
        f"-c statement_timeout={round(statement_timeout_s * 1000)} "
        f"-c idle_in_transaction_session_timeout={round(idle_in_transaction_s * 1000)}"
    )


def create_engine(settings: Settings) -> AsyncEngine:
    """An async engine over psycopg 3 with a bounded pool."""
    options = session_options(
        statement_timeout_s=settings.db_statement_timeout_s,
        idle_in_transaction_s=settings.db_idle_in_transaction_timeout_s,
        application_name=APPLICATION_NAME,
    )
    return create_async_engine(
        settings.sqlalchemy_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        connect_args={"options": options},
    )


def create_export_engine(settings: Settings) -> AsyncEngine:
    """The exports' own pool: one connection per export slot, never borrowed by anything else,
    so however many exports run, ingest, commands and pages keep their connections."""
    options = session_options(
        statement_timeout_s=settings.export_statement_timeout_s,
        idle_in_transaction_s=settings.db_idle_in_transaction_timeout_s,
        application_name=EXPORT_APPLICATION_NAME,
    )
    return create_async_engine(
        settings.sqlalchemy_url,
        pool_size=settings.export_max_concurrent,
        max_overflow=0,
        pool_pre_ping=True,
        connect_args={"options": options},
    )


def libpq_dsn(settings: Settings) -> str:
    """The database URL as a libpq connection string, for plain psycopg connections."""
    url = make_url(settings.sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: committed when the handler returns, rolled back on error."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session, session.begin():
        yield session


# Scope "function": commit before the response is sent. With FastAPI's default ("request") the
# commit ran after the answer had gone out, so a client (an edge about to drop a batch from its
# spool) could be told "stored" before the data was committed, or even if the commit failed.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
