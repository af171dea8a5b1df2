"""On-call rosters: stored, validated by field, audited, and read as resolvers."""

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.notifications import repository
from app.notifications.oncall import WEEKDAYS, Roster, Shift
from app.notifications.schemas import RosterIn, RosterOut, ShiftOut
from app.notifications.service import RuleRefusedError, Who

ROSTERS = text("SELECT id, name, time_zone FROM oncall_roster ORDER BY name")
SHIFTS = text("""
SELECT s.roster_id, s.user_id, s.weekday, s.starts, s.ends, u.username
FROM oncall_shift s JOIN app_user u ON u.id = s.user_id ORDER BY s.roster_id, s.weekday, s.starts
""")
INSERT_ROSTER = text("""
INSERT INTO oncall_roster (name, time_zone) VALUES (:name, :zone)
ON CONFLICT (name) DO NOTHING RETURNING id
""")
INSERT_SHIFT = text("""
INSERT INTO oncall_shift (roster_id, user_id, weekday, starts, ends)
VALUES (:roster, :user, :weekday, :starts, :ends)
""")
NAME_TAKEN = text("SELECT 1 FROM oncall_roster WHERE name = :name AND id <> :id")


async def _read(session: AsyncSession) -> list[tuple[Roster, dict[int, str]]]:
    """Every roster with its shifts, and the usernames its shifts name."""
    shifts: dict[int, list[Shift]] = {}
    names: dict[int, dict[int, str]] = {}
    for roster_id, user_id, weekday, starts, ends, username in await session.execute(SHIFTS):
        shifts.setdefault(roster_id, []).append(Shift(user_id, weekday, starts, ends))
        names.setdefault(roster_id, {})[user_id] = username
    return [
        (Roster(rid, name, zone, tuple(shifts.get(rid, ()))), names.get(rid, {}))
        for rid, name, zone in await session.execute(ROSTERS)
    ]


async def load_rosters(session: AsyncSession) -> list[Roster]:
    """Every roster, ready to say who is on call."""
    return [roster for roster, _ in await _read(session)]


def _clock(value: time) -> str:
    return value.strftime("%H:%M")


async def list_rosters(session: AsyncSession, *, now: datetime) -> list[RosterOut]:
    """Every roster with its shifts and who is on call at `now`."""
    found = []
    for roster, names in await _read(session):
        shifts = [
            ShiftOut(
                weekday=WEEKDAYS[s.weekday],
                starts=_clock(s.starts),
                ends=_clock(s.ends),
                user=names[s.user_id],
            )
            for s in roster.shifts
        ]
        on_call = sorted(names[u] for u in roster.on_call(now))
        found.append(
            RosterOut(
                id=roster.id,
                name=roster.name,
                time_zone=roster.time_zone,
                shifts=shifts,
                on_call_now=on_call,
            )
        )
    return found


def check_every_site(who: Who) -> None:
    """Rosters serve every site's rules: only an admin of every site changes them."""
    if who.user.site_ids is not None:
        raise RuleRefusedError(
            "on-call rosters serve every site: only an admin of every site changes them",
            status=403,
        )


def check_zone(name: str) -> None:
    """Refuse a time zone the IANA database does not have, naming it."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RuleRefusedError(
            f"time_zone: {name!r} is not an IANA time zone (e.g. 'Europe/Berlin')"
        ) from exc


async def _shift_rows(session: AsyncSession, body: RosterIn) -> list[dict[str, Any]]:
    users = await repository.user_ids_by_name(session, [s.user for s in body.shifts])
    rows = []
    for index, shift in enumerate(body.shifts):
        if shift.user not in users:
            raise RuleRefusedError(f"shifts[{index}].user: no enabled user {shift.user!r}")
        if shift.starts == shift.ends:
            raise RuleRefusedError(
                f"shifts[{index}]: starts and ends are both {shift.starts}; a shift needs a length"
            )
        rows.append(
            {
                "user": users[shift.user],
                "weekday": WEEKDAYS.index(shift.weekday),
                "starts": time.fromisoformat(shift.starts),
                "ends": time.fromisoformat(shift.ends),
            }
        )
    return rows


async def _store_shifts(session: AsyncSession, roster_id: int, rows: list[dict[str, Any]]) -> None:
    await session.execute(text("DELETE FROM oncall_shift WHERE roster_id = :id"), {"id": roster_id})
    for row in rows:
        await session.execute(INSERT_SHIFT, {**row, "roster": roster_id})


async def create_roster(session: AsyncSession, body: RosterIn, *, who: Who) -> int:
    """Store a new roster; returns its id."""
    check_every_site(who)
    check_zone(body.time_zone)
    rows = await _shift_rows(session, body)
    made = (
        await session.execute(INSERT_ROSTER, {"name": body.name, "zone": body.time_zone})
    ).first()
    if made is None:
        raise RuleRefusedError(f"name: a roster named {body.name!r} exists already", status=409)
    await _store_shifts(session, made[0], rows)
    who.audit(session, "oncall_roster.create", f"roster {made[0]}", roster=body.model_dump())
    return int(made[0])


async def replace_roster(
    session: AsyncSession, roster_id: int, body: RosterIn, *, who: Who
) -> None:
    """Replace a roster's name, zone and every shift."""
    check_every_site(who)
    check_zone(body.time_zone)
    rows = await _shift_rows(session, body)
    taken = await session.execute(NAME_TAKEN, {"name": body.name, "id": roster_id})
    if taken.first() is not None:
        raise RuleRefusedError(f"name: a roster named {body.name!r} exists already", status=409)
    await session.execute(
        text("UPDATE oncall_roster SET name = :name, time_zone = :zone WHERE id = :id"),
        {"name": body.name, "zone": body.time_zone, "id": roster_id},
    )
    await _store_shifts(session, roster_id, rows)
    who.audit(session, "oncall_roster.update", f"roster {roster_id}", roster=body.model_dump())


async def roster_exists(session: AsyncSession, roster_id: int) -> bool:
    """Whether the roster exists (locked for the change)."""
    found = await session.execute(
        text("SELECT 1 FROM oncall_roster WHERE id = :id FOR UPDATE"), {"id": roster_id}
    )
    return found.first() is not None


async def delete_roster(session: AsyncSession, roster_id: int, *, who: Who) -> None:
    """Delete a roster; rules that named it stop naming it."""
    check_every_site(who)
    await session.execute(
        text("UPDATE notification_rule SET roster_ids = array_remove(roster_ids, :id)"),
        {"id": roster_id},
    )
    await session.execute(text("DELETE FROM oncall_roster WHERE id = :id"), {"id": roster_id})
    who.audit(session, "oncall_roster.delete", f"roster {roster_id}")
