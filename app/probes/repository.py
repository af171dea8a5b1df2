"""Database facts the readiness probe needs."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def timescaledb_version(conn: AsyncConnection) -> str | None:
    """The installed timescaledb extension version, or None."""
    result = await conn.execute(
        text("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    )
    return result.scalar_one_or_none()


async def alembic_revisions(conn: AsyncConnection) -> set[str]:
    """Revisions recorded in alembic_version (empty before the first migration)."""
    exists = await conn.execute(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
    if not exists.scalar_one():
        return set()
    result = await conn.execute(text("SELECT version_num FROM alembic_version"))
    return set(result.scalars())
