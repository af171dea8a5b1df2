"""The wire contract: the edge writes, and the backend reads, exactly the pinned v1 fixture."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.ingest.asset_map import ModuleAsset, SiteAssets
from app.ingest.parsing import ParsedBatch, parse_row_by_row, parse_strict
from app.ingest.validation import TimeBounds, validate_batch
from edge.can.assemble import Q_STALE, Snapshot
from edge.can.events import Event, EventKind, Readings
from edge.model import Target
from edge.uplink.wire import (
    asset_record,
    batch_body,
    event_record,
    module_record,
    string_record,
    system_record,
)

FIXTURE = Path(__file__).parent / "fixtures" / "wire_batch_v1.json"
T0 = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC).timestamp()


def edge_batch() -> dict[str, Any]:
    """A batch built by the edge's own wire functions from fixed snapshots."""
    module = Snapshot(
        T0,
        1,
        2,
        {
            "soc_pct": 55.5,
            "soh_pct": 98.1,
            "voltage_v": 52.71,
            "current_a": -40.5,
            "balancing": 5.0,
            "fault_bits": 2.0,
            "status_bits": 3.0,
            "bypassed": 0.0,
            "alive": 17.0,
        },
        tuple(3.29 + i / 1000 for i in range(4)),
        (24.5, 25.1),
        Q_STALE,
    )
    string = Snapshot(
        T0,
        1,
        0,
        {
            "voltage_v": 843.2,
            "current_a": -40.5,
            "soc_pct": 55.0,
            "contactor_closed": 1.0,
            "contactor_fault": 0.0,
            "enabled": 1.0,
            "disable_reason": 0.0,
            "charge_limit_a": 140.0,
            "insulation_kohm": 5000.0,
            "n_mod_connected": 2.0,
            "heartbeat": 9.0,
        },
        (),
        (),
        0,
    )
    readings = Readings((3.29, 3.512, 3.292, 3.293), (24.5, 25.1))
    event = Event(
        T0 + 0.25, EventKind.FAULT_RAISED, Target.MODULE, 1, 2, "cell_ov_warning", readings
    )
    opened = Event(T0 + 0.5, EventKind.CONTACTOR_OPENED, Target.STRING, 1, 0, disable_reason=1)
    # The whole battery (string 0, module 0): an optional section of v1.
    system = Snapshot(
        T0,
        0,
        0,
        {"soc_pct": 55.2, "current_a": -81.0, "voltage_v": 843.0, "charge_limit_kw": 120.0},
        (),
        (),
        0,
    )
    return batch_body(
        edge_id="8a0d4b9e-3c1f-4f7e-9a55-2b1c0d9e8f71",
        seq=42,
        site="fixture-site",
        created_at=T0 + 1,
        counters={"frames": 100, "decoded": 99},
        modules=[module_record(module)],
        strings=[string_record(string)],
        events=[event_record(event), event_record(opened)],
        assets=[asset_record(1, 2, cell_count=4, temp_count=2)],
        systems=[system_record(system)],
    )


def test_edge_writes_the_pinned_fixture() -> None:
    assert edge_batch() == json.loads(FIXTURE.read_text())


@pytest.mark.parametrize("parse", [parse_strict, parse_row_by_row])
def test_backend_reads_the_pinned_fixture_without_rejections(
    parse: Callable[[bytes], ParsedBatch | None],
) -> None:
    batch = parse(FIXTURE.read_bytes())
    assert batch is not None
    assets = SiteAssets(site_id=1, racks={1: 10}, modules={(1, 2): ModuleAsset(20, 10, 4, 2)})
    sent = datetime.fromtimestamp(T0, UTC)
    bounds = TimeBounds(earliest=sent - timedelta(days=1), latest=sent + timedelta(minutes=5))
    validated = validate_batch(batch, assets, bounds)
    assert validated.rejections == []
    (module,) = validated.modules
    assert module.cell_v == [3.29, 3.291, 3.292, 3.293]
    assert module.quality == Q_STALE
    assert validated.strings[0].contactor_closed is True
    assert validated.events[0].code == "cell_ov_warning"
    assert validated.events[0].cell_v == [3.29, 3.512, 3.292, 3.293]  # what the fault rose with
    assert validated.events[1].disable_reason == 1  # StrDisRsn fault, as the contactors opened
    ((system,),) = [validated.systems]
    assert (system.soc_pct, system.current_a, system.charge_limit_kw) == (55.2, -81.0, 120.0)
    assert system.power_kw == round(843.0 * -81.0 / 1000, 3)  # V x I: the BMS gave no power
    ((_, announced),) = batch.assets
    assert (announced.string, announced.module, announced.cell_count) == (1, 2, 4)
