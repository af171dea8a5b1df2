"""The alarm an operator's command answers: checked against the command's target, and kept
with the command so that the isolation it makes starts at that fault (DESIGN §5)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.commands import interlocks

ALARM = text("""
SELECT a.code, a.raised_at, a.rack_id, a.module_id, r.index, m.position FROM alarm a
LEFT JOIN rack r ON r.id = a.rack_id LEFT JOIN module m ON m.id = a.module_id
WHERE a.id = :id AND a.site_id = :site
""")


@dataclass(frozen=True, slots=True)
class AnsweredAlarm:
    """The alarm a command answers: which one, its fault code and when it was raised."""

    alarm_id: int
    code: str
    raised_at: datetime


def _where(string: int | None, module: int | None) -> str:
    if string is None:
        return "the site"
    return f"string {string}" + (f" module {module}" if module is not None else "")


def _fits(target: interlocks.Target, rack_id: int | None, module_id: int | None) -> bool:
    """Whether an alarm at (rack, module) is one the command's target can answer: the site's
    commands any of its alarms, a string's its own or its modules', a module's its own or its
    string's."""
    if target.rack_id is None:
        return True
    if target.module_id is None:
        return rack_id == target.rack_id
    return module_id == target.module_id or (rack_id == target.rack_id and module_id is None)


async def answered_alarm(
    session: AsyncSession, *, site_id: int, target: interlocks.Target, alarm_id: int
) -> AnsweredAlarm | interlocks.Refusal:
    """The alarm named, if it is the site's and on the target; else why it cannot be."""
    row = (await session.execute(ALARM, {"id": alarm_id, "site": site_id})).first()
    if row is None:
        return interlocks.Refusal(
            f"this site has no alarm {alarm_id}", "name one of this site's alarms, or none"
        )
    code, raised_at, rack_id, module_id, string, module = row
    if not _fits(target, rack_id, module_id):
        return interlocks.Refusal(
            f"alarm {alarm_id} ({code}) is at {_where(string, module)}, not on the command's "
            "target",
            "name an alarm of the string or module the command acts on, or none",
        )
    return AnsweredAlarm(alarm_id, code, raised_at)
