"""Readiness: database reachable, migrations at head, timescaledb present."""

import asyncio
from dataclasses import dataclass, field
from functools import lru_cache

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import PROJECT_ROOT
from app.probes import repository

READINESS_TIMEOUT_S = 3.0


@dataclass
class Readiness:
    """The outcome of the readiness checks; `reasons` is empty when ready."""

    reasons: list[str] = field(default_factory=list)
    timescaledb: str | None = None
    revision: str | None = None

    @property
    def ready(self) -> bool:
        """Whether every check passed."""
        return not self.reasons


@lru_cache
def migration_heads() -> frozenset[str]:
    """The head revisions of the migrations shipped with this code."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


async def check_readiness(engine: AsyncEngine) -> Readiness:
    """Run every readiness check against the database, bounded in time."""
    try:
        return await asyncio.wait_for(_check(engine), timeout=READINESS_TIMEOUT_S)
    except TimeoutError:
        return Readiness(reasons=[f"database did not answer within {READINESS_TIMEOUT_S:g} s"])
    except OSError as exc:
        return Readiness(reasons=[f"database unreachable: {exc}"])
    except Exception as exc:
        return Readiness(reasons=[f"database unreachable: {type(exc).__name__}: {exc}"])


async def _check(engine: AsyncEngine) -> Readiness:
    async with engine.connect() as conn:
        readiness = Readiness(timescaledb=await repository.timescaledb_version(conn))
        revisions = await repository.alembic_revisions(conn)
    if readiness.timescaledb is None:
        readiness.reasons.append("the timescaledb extension is not installed in the database")
    heads = migration_heads()
    readiness.revision = ",".join(sorted(revisions)) or None
    if revisions != heads:
        readiness.reasons.append(
            f"migrations not at head: database at {readiness.revision or 'nothing'}, "
            f"code expects {','.join(sorted(heads))} (run: make migrate)"
        )
    return readiness
