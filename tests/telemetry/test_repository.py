"""Module samples written through the repository read back identical."""

from datetime import UTC, datetime, timedelta

import pytest
from psycopg.errors import UniqueViolation
from sqlalchemy.ext.asyncio import AsyncSession

from app.telemetry.repository import copy_module_samples, module_samples
from tests.factories import make_site, module_ids, module_sample

T0 = datetime(2026, 11, 21, 12, 0, 0, 250_000, tzinfo=UTC)


def lfp_cells(offset_mv: int) -> list[float]:
    """Sixteen distinct, plausible LFP cell voltages."""
    return [3.2 + (offset_mv + 7 * i) / 1000 for i in range(16)]


async def test_module_sample_round_trip(session: AsyncSession) -> None:
    module_id = (await module_ids(session, await make_site(session)))[0]
    written = [module_sample(module_id, T0 + timedelta(seconds=i), lfp_cells(i)) for i in range(3)]

    assert await copy_module_samples(session, written) == 3
    read = await module_samples(
        session, module_id=module_id, start=T0, end=T0 + timedelta(minutes=1)
    )

    assert read == written
    assert [len(r.cell_v) for r in read] == [16, 16, 16]
    assert read[0].ts == T0


async def test_samples_of_other_modules_are_not_returned(session: AsyncSession) -> None:
    first, second = (await module_ids(session, await make_site(session)))[:2]
    await copy_module_samples(
        session, [module_sample(first, T0, lfp_cells(0)), module_sample(second, T0, lfp_cells(1))]
    )
    read = await module_samples(session, module_id=second, start=T0, end=T0 + timedelta(1))
    assert [r.module_id for r in read] == [second]


async def test_duplicate_sample_key_is_refused(session: AsyncSession) -> None:
    module_id = (await module_ids(session, await make_site(session)))[0]
    row = module_sample(module_id, T0, lfp_cells(0))
    await copy_module_samples(session, [row])
    with pytest.raises(UniqueViolation):
        await copy_module_samples(session, [row])


async def test_rows_of_several_shapes_and_null_patterns_round_trip(session: AsyncSession) -> None:
    # One COPY stream, rows of two module shapes (16 cells and 4 sensors, 12 cells and none)
    # and every nullable column NULL in some rows: each pattern is encoded as its own run.
    module_id = (await module_ids(session, await make_site(session)))[0]
    written = [
        module_sample(module_id, T0, lfp_cells(0)),
        module_sample(
            module_id, T0 + timedelta(seconds=1), lfp_cells(1)[:12], temp_c=[], temp_c_max=None
        ),
        module_sample(
            module_id, T0 + timedelta(seconds=2), lfp_cells(2), soc_pct=None, current_a=None
        ),
        module_sample(
            module_id,
            T0 + timedelta(seconds=3),
            lfp_cells(3),
            soh_pct=None,
            voltage_v=None,
            quality=0x7FFF,
            balancing=2**63 - 1,
        ),
        module_sample(
            module_id,
            T0 + timedelta(seconds=4),
            lfp_cells(4)[:12],
            temp_c=[],
            temp_c_max=None,
            soc_pct=None,
        ),
    ]
    assert await copy_module_samples(session, written) == 5
    read = await module_samples(
        session, module_id=module_id, start=T0, end=T0 + timedelta(minutes=1)
    )
    assert read == written
