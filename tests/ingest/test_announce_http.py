"""Modules announced by the edge in a batch: registered, or refused with the reason, over HTTP."""

import uuid
from typing import Any

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.wire import T0, batch, full_site_rows, module_row
from tests.wire import post_batch as post


@pytest.fixture
async def site(engine: AsyncEngine) -> DeviceSite:
    """A committed 2 x 3 module site (16 cells, 4 sensors) with an edge device."""
    return await committed_device_site(engine)


def announcement(string: int, module: int, **fields: Any) -> dict[str, Any]:
    """A module announcement as the edge sends it."""
    return {"string": string, "module": module, "cell_count": 16, "temp_count": 4, **fields}


def announcing(site: DeviceSite, seq: int, assets: list[dict[str, Any]], **rows: Any) -> Any:
    """A batch with announcements; the site's full rows unless others are given."""
    body = batch(site.code, seq, **(rows or full_site_rows(T0)))
    body["assets"] = assets
    return body


def registered(dsn: str, site: DeviceSite, string: int, module: int) -> tuple[Any, ...] | None:
    """(serial, firmware, cell_count, chemistry, capacity_ah) of a module, if registered."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT m.serial, m.firmware, m.cell_count, m.chemistry, m.capacity_ah FROM module m "
            "JOIN rack r ON r.id = m.rack_id WHERE r.site_id = %s AND r.index = %s "
            "AND m.position = %s",
            (site.site_id, string, module),
        ).fetchone()


def test_an_announced_module_is_registered_and_its_samples_stored(
    server: LiveServer, site: DeviceSite, test_database_url: str
) -> None:
    dsn = psycopg_dsn(test_database_url)
    serial = f"SN-{uuid.uuid4().hex[:12]}"
    rows = full_site_rows(T0)
    rows["modules"].append(module_row(2, 4, T0))  # a fourth module in string 2
    first = announcing(site, 1, [announcement(2, 4, serial=serial, firmware="2.1")], **rows)
    assert registered(dsn, site, 2, 4) is None

    answer = post(server, site.token, first).json()

    assert answer["assets"] == {"received": 1, "stored": 1, "already_stored": 0, "rejected": 0}
    assert answer["modules"] == {"received": 7, "stored": 7, "already_stored": 0, "rejected": 0}
    assert answer["rejections"] == []
    string_capacity = site_capacity(dsn, site)
    assert registered(dsn, site, 2, 4) == (serial, "2.1", 16, "LFP", string_capacity)

    newer = announcing(site, 2, [announcement(2, 4, serial=serial, firmware="2.2")])
    assert post(server, site.token, newer).json()["assets"]["stored"] == 1  # firmware updated
    same = announcing(site, 3, [announcement(2, 4, serial=serial, firmware="2.2")])
    assert post(server, site.token, same).json()["assets"]["already_stored"] == 1
    again = post(server, site.token, first).json()  # batch 1 delivered again, late
    assert again["duplicate_batch"] is True
    assert again["assets"] == {"received": 1, "stored": 0, "already_stored": 1, "rejected": 0}
    assert registered(dsn, site, 2, 4) == (serial, "2.2", 16, "LFP", string_capacity)


def site_capacity(dsn: str, site: DeviceSite) -> float:
    """The module capacity of the site's string 2 (what a new module of it gets)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT capacity_ah FROM rack WHERE site_id = %s AND index = 2", (site.site_id,)
        ).fetchone()
    assert row is not None
    return float(row[0])


async def test_announcements_that_contradict_the_registry_are_refused_with_reasons(
    server: LiveServer, site: DeviceSite, engine: AsyncEngine, test_database_url: str
) -> None:
    dsn = psycopg_dsn(test_database_url)
    other = await committed_device_site(engine)
    taken = f"SN-{uuid.uuid4().hex[:12]}"
    claimed = announcing(other, 1, [announcement(1, 1, serial=taken)])
    assert post(server, other.token, claimed).json()["assets"]["stored"] == 1
    repeated = f"SN-{uuid.uuid4().hex[:12]}"
    assets = [
        announcement(9, 1),  # 0: no string 9 here
        announcement(1, 1, cell_count=14),  # 1: registered with 16 cells
        announcement(1, 2, temp_count=2),  # 2: registered with 4 sensors
        announcement(1, 3, serial=taken),  # 3: another site's module has it
        announcement(2, 4, serial=repeated),  # 4: fine, registered
        announcement(2, 5, serial=repeated),  # 5: the same serial again
        announcement(2, 4),  # 6: the same module again
        announcement(2, 6, serial="bad\x01serial"),  # 7: control character
    ]
    rows = full_site_rows(T0)
    rows["modules"].append(module_row(2, 5, T0))  # its announcement is refused: unknown

    answer = post(server, site.token, announcing(site, 1, assets, **rows)).json()

    refused = {(r["section"], r["row"]): (r["field"], r["reason"]) for r in answer["rejections"]}
    assert refused == {
        ("assets", 0): (
            "string",
            "string 9 is not in this site; strings come from the site configuration",
        ),
        ("assets", 1): ("cell_count", "this module is registered with 16 cells"),
        ("assets", 2): ("temp_count", "this module is registered with 4 temperature sensors"),
        ("assets", 3): ("serial", "this serial is registered to a module of another site"),
        ("assets", 5): ("serial", "this serial is announced twice in the batch"),
        ("assets", 6): ("module", "this module is announced twice in the batch"),
        ("assets", 7): ("serial", refused[("assets", 7)][1]),
        ("modules", 6): (
            "module",
            "string 2 has no module 5 at this site (neither in its "
            "configuration nor announced by the edge)",
        ),
    }
    assert "pattern" in refused[("assets", 7)][1]
    assert answer["assets"] == {"received": 8, "stored": 1, "already_stored": 0, "rejected": 7}
    assert answer["modules"]["stored"] == 6  # the known modules' samples are kept
    assert registered(dsn, site, 2, 4) == (repeated, None, 16, "LFP", site_capacity(dsn, site))
    assert registered(dsn, site, 2, 5) is None
    assert registered(dsn, site, 1, 1) is not None
    assert registered(dsn, site, 1, 1)[2] == 16  # type: ignore[index]
    with psycopg.connect(dsn) as conn:
        kept = conn.execute(
            "SELECT row_index, field FROM ingest_rejection WHERE site_id = %s "
            "AND section = 'assets' ORDER BY row_index",
            (site.site_id,),
        ).fetchall()
    assert kept == [
        (0, "string"),
        (1, "cell_count"),
        (2, "temp_count"),
        (3, "serial"),
        (5, "serial"),
        (6, "module"),
        (7, "serial"),
    ]
