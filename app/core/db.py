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


def create_engine(settings: Settings) -> AsyncEngine:
    """An async engine over psycopg 3 with a bounded pool."""
    return create_async_engine(
        settings.sqlalchemy_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        # Times are always UTC in the database session; display converts per site. Commits
        # are on disk before they are answered, whatever the server's default (the dev cluster
        # runs with synchronous_commit off): an edge deletes a batch it is told is stored.
        connect_args={"options": "-c timezone=UTC -c synchronous_commit=on"},
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
