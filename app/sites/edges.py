"""A site's edge devices as the site page shows them: heard when, and how their spool is."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


def _count(counters: dict[str, Any], key: str) -> int | None:
    """A whole-number counter, or None when the edge did not send it (an older edge)."""
    value = counters.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class EdgeStatus:
    """One edge device of a site, with the spool counters of its newest batch."""

    name: str
    software_version: str | None
    last_seen_at: datetime | None
    spool_depth: int | None
    spool_dropped: int | None
    dead_letters: int | None
    dead_dropped: int | None
    spool_quarantined: int | None

    @classmethod
    def from_row(
        cls, name: str, version: str | None, seen: datetime | None, counters: dict[str, Any]
    ) -> "EdgeStatus":
        """From the device row and its kept counters."""
        keys = ("spool_depth", "spool_dropped", "dead_letters", "dead_dropped", "spool_quarantined")
        return cls(name, version, seen, *(_count(counters, key) for key in keys))

    @property
    def troubled(self) -> bool:
        """Whether its spool needs someone: refused batches, drops, or a corrupt file."""
        return any(
            n
            for n in (
                self.spool_dropped,
                self.dead_letters,
                self.dead_dropped,
                self.spool_quarantined,
            )
        )


EDGES = text("""
SELECT name, software_version, last_seen_at, counters FROM edge_device
WHERE site_id = :site AND revoked_at IS NULL ORDER BY name
""")


async def site_edges(session: AsyncSession, *, site_id: int) -> list[EdgeStatus]:
    """The site's devices (not revoked), by name."""
    rows = await session.execute(EDGES, {"site": site_id})
    return [EdgeStatus.from_row(*row) for row in rows]
