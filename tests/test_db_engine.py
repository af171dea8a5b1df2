"""The backend's database sessions: UTC and durable commits, whatever the server's defaults."""

from pydantic import PostgresDsn
from sqlalchemy import text

from app.config import Settings
from app.core.db import create_engine


async def test_sessions_run_in_utc_with_synchronous_commit(test_database_url: str) -> None:
    # The project's cluster defaults to synchronous_commit = off (scripts/db.sh): an answer to
    # an edge must not come before its batch is on disk.
    engine = create_engine(Settings(_env_file=None, database_url=PostgresDsn(test_database_url)))
    async with engine.connect() as conn:
        settings = await conn.execute(
            text("SELECT current_setting('TimeZone'), current_setting('synchronous_commit')")
        )
        assert settings.one() == ("UTC", "on")
    await engine.dispose()
