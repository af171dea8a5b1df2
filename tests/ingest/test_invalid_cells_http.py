"""Cells the BMS flagged invalid arrive as null: stored as NULL, the rest of the sample kept."""

from datetime import timedelta

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.wire import T0, batch, module_row, post_batch

pytestmark = pytest.mark.usefixtures("server")
CELLS = [round(3.301 + i / 1000, 3) for i in range(16)]


@pytest.fixture
async def site(engine: AsyncEngine) -> DeviceSite:
    """A committed 2 x 3 module site with an edge device."""
    return await committed_device_site(engine)


def stored_row(url: str, module_id: int) -> tuple[object, ...]:
    """The module's sample: cells, their statistics, and quality."""
    with psycopg.connect(psycopg_dsn(url)) as conn:
        row = conn.execute(
            "SELECT cell_v, cell_v_min, cell_v_max, cell_v_avg, cell_v_min_idx, cell_v_max_idx, "
            "soc_pct FROM module_sample WHERE module_id = %s",
            (module_id,),
        ).fetchone()
    assert row is not None
    return tuple(row)


@pytest.mark.parametrize("with_a_plain_row", [False, True])
def test_null_cells_are_stored_as_null_and_left_out_of_the_statistics(
    server: LiveServer, site: DeviceSite, test_database_url: str, with_a_plain_row: bool
) -> None:
    # Cell 16 (the highest) and cell 1 (the lowest) flagged invalid by the BMS.
    cells: list[float | None] = [None, *CELLS[1:15], None]
    rows = [module_row(1, 1, T0, cell_v=cells, quality=4)]
    if with_a_plain_row:  # the usual batch: rows of both kinds in one COPY
        rows.append(module_row(1, 2, T0, cell_v=CELLS))
    response = post_batch(server, site.token, batch(site.code, 1, modules=rows))
    assert response.status_code == 200, response.text
    assert response.json()["modules"]["stored"] == len(rows)
    cell_v, low, high, avg, low_idx, high_idx, soc = stored_row(
        test_database_url, site.module_ids[0]
    )
    assert cell_v == [None, *[pytest.approx(v) for v in CELLS[1:15]], None]
    assert (low, high) == (pytest.approx(3.302), pytest.approx(3.315))
    assert (low_idx, high_idx, soc) == (1, 14, 55.5)
    assert avg == pytest.approx(sum(CELLS[1:15]) / 14, abs=1e-4)
    if with_a_plain_row:
        assert stored_row(test_database_url, site.module_ids[1])[0] == [
            pytest.approx(v) for v in CELLS
        ]


def test_a_sample_without_any_known_cell_is_refused_with_the_reason(
    server: LiveServer, site: DeviceSite
) -> None:
    rows = [
        module_row(1, 1, T0, cell_v=[None] * 16),
        module_row(1, 2, T0 + timedelta(seconds=1)),
    ]
    response = post_batch(server, site.token, batch(site.code, 1, modules=rows))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["modules"]["stored"] == 1
    assert body["rejections"][0]["field"] == "cell_v"
    assert "every element is null" in body["rejections"][0]["reason"]


def test_the_module_page_shows_an_invalid_cell_as_invalid(
    server: LiveServer, site: DeviceSite
) -> None:
    cells: list[float | None] = [*CELLS[:3], None, *CELLS[4:]]
    post_batch(
        server, site.token, batch(site.code, 1, modules=[module_row(1, 1, T0, cell_v=cells)])
    )
    page = server.http.get(f"{server.url}/sites/{site.code}/modules/{site.module_ids[0]}")
    assert page.status_code == 200, page.text
    assert page.text.count('role="listitem"') == 16
    assert "Cell 4: invalid (the BMS flagged it)" in page.text
    assert "Cell 5: 3.305 V" in page.text
