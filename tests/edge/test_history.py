"""The backfill's generated history: what the edge would have sent, incidents the policy met."""

from collections import Counter
from pathlib import Path

import pytest

from edge.can.assemble import Assembler, Snapshot
from edge.can.decode import Frame, FrameDecoder
from edge.can.events import EventKind
from edge.can.protocol import Protocol, load_protocol
from edge.control.journal import Journal
from edge.counters import Counters
from edge.sim.bms import SimBms
from edge.sim.faults import Fault, FaultKind, apply_fault
from edge.sim.history import STEP_S, HistoryGenerator, Span
from edge.sim.incidents import history_incidents
from edge.sim.plant import Plant, PlantSpec
from edge.sim.snapshots import module_snapshot, string_snapshot
from edge.site import SiteFile, load_site_file
from tests.edge_process import REFERENCE_MAPPING, REFERENCE_POLICY, write_site_file

DAY_S = 86_400.0
END = 1_796_000_000.0  # a fixed moment, so the plan's hours (and so the history) are fixed
SPEC = PlantSpec(
    strings=2,
    modules_per_string=3,
    cells_per_module=16,
    temps_per_module=4,
    capacity_ah=280,
    string_rated_a=140,
    energy_kwh=86,
    power_kw=40,
)


@pytest.fixture(scope="module")
def protocol() -> Protocol:
    """The reference protocol."""
    return load_protocol(REFERENCE_MAPPING)


@pytest.fixture
def site(tmp_path: Path) -> SiteFile:
    """A small test site with the demo's policy tiers (7 modules a string: its 200 kWh)."""
    path = write_site_file(
        tmp_path,
        code="hist-site",
        mapping=REFERENCE_MAPPING,
        modules=7,
        simulator="seed = 3\ninitial_soc_pct = 55",
        policy=REFERENCE_POLICY,
    )
    return load_site_file(path)


def generator(site: SiteFile, protocol: Protocol, tmp_path: Path, days: float) -> HistoryGenerator:
    """A generator for `days` up to END, a sample every 15 minutes, no backend to report to."""
    journal = Journal(tmp_path / f"journal-{days}.sqlite3")
    span = Span(END - days * DAY_S, END, 900.0)
    return HistoryGenerator(site, protocol, span, journal=journal, client=None, edge_id="t")


def assembled(protocol: Protocol, bms: SimBms, ts: float) -> dict[tuple[int, int], Snapshot]:
    """What the edge's decoder and assembler make of one full set of the BMS's frames."""
    assembler = Assembler(
        period_s=1.0, cells=16, temps=4, comms_timeout_s=3.0, fault_names=protocol.fault_names
    )
    decoder = FrameDecoder(protocol, Counters())
    for out in bms.frames():
        decoded = decoder.decode(Frame(ts, out.frame_id, True, out.data))
        assert decoded is not None
        assembler.add(decoded)
    output = assembler.flush(ts + 2.0)
    return {(s.string, s.module): s for s in output.modules + output.strings}


def test_snapshots_are_what_the_edge_assembles_from_the_bms_frames(protocol: Protocol) -> None:
    plant = Plant.build(SPEC, seed=4)
    plant.step(600.0, -30.0, now=0.0)  # charging: currents, balancing, counters all non-zero
    apply_fault(plant, Fault(FaultKind.CELL_OV, string=2, module=3, cell=5, size=0.4))
    plant.strings[0].charge_limit_a = 70.0
    bms = SimBms(plant, protocol)
    bms.evaluate()
    from_frames = assembled(protocol, bms, 100.0)
    made = [module_snapshot(100.0, s, m) for s in plant.strings for m in s.modules]
    made += [string_snapshot(100.0, s) for s in plant.strings]
    assert len(made) == len(from_frames) == 2 * 3 + 2
    for snapshot in made:
        edge = from_frames[(snapshot.string, snapshot.module)]
        assert snapshot.cell_v == pytest.approx(edge.cell_v, abs=1e-9)
        assert snapshot.temp_c == pytest.approx(edge.temp_c, abs=1e-9)
        assert snapshot.values.keys() <= edge.values.keys()
        for name, value in snapshot.values.items():
            assert value == pytest.approx(edge.values[name], abs=1e-6), name


def test_history_is_the_same_every_time(site: SiteFile, protocol: Protocol, tmp_path: Path) -> None:
    first = list(generator(site, protocol, tmp_path / "a", 2).periods())
    second = list(generator(site, protocol, tmp_path / "b", 2).periods())
    assert len(first) == 2 * 96
    assert sum(len(o.modules) for o in first) == 2 * 96 * 14
    assert first == second


def test_incidents_vary_by_site_and_leave_the_last_day_clear() -> None:
    north = history_incidents(SPEC, site="north-quay", seed=10, days=30)
    ridge = history_incidents(SPEC, site="ridge-farm", seed=10, days=30)
    assert 8 <= len(north) <= 11
    assert [i.start_s for i in north] != [i.start_s for i in ridge]
    for incident in north + ridge:
        assert incident.end_s <= 29 * DAY_S  # repaired before the last day
        assert 0.5 * 3600 <= incident.end_s - incident.start_s <= 10 * 3600


@pytest.mark.parametrize("period_s", [0.0, 450.0, 1000.0])
def test_a_sample_period_must_be_whole_plant_steps(period_s: float) -> None:
    with pytest.raises(ValueError, match=f"multiple of {STEP_S:.0f} s, got {period_s}"):
        Span(0.0, DAY_S, period_s)


def test_a_month_has_only_its_incidents_and_ends_in_service(
    site: SiteFile, protocol: Protocol, tmp_path: Path
) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    span = Span(END - 30 * DAY_S, END, 900.0)
    history = HistoryGenerator(site, protocol, span, journal=journal, client=None, edge_id="t")
    raised: Counter[str] = Counter()
    opened = closed = 0
    for output in history.periods():
        for event in output.events:
            raised[event.code] += event.kind is EventKind.FAULT_RAISED
            opened += event.kind is EventKind.CONTACTOR_OPENED
            closed += event.kind is EventKind.CONTACTOR_CLOSED
        assert all(15 <= s.values["soc_pct"] <= 96 for s in output.strings)
    incidents = history_incidents(history.plant.spec, site="hist-site", seed=3, days=30)
    isolating = [i for i in incidents if i.fault.kind is not FaultKind.COMMS_LOSS]
    # Each incident raises its own codes only (no ordinary operation warnings in between) ...
    assert sum(raised.values()) <= 2 * len(incidents)
    assert raised["cell_uv_warning"] <= sum(i.fault.kind is FaultKind.CELL_UV for i in incidents)
    # ... the policy isolated at alarm level, an operator returned each string after repair.
    actions = [a.action["kind"] for a in journal.unreported_actions()]
    assert opened == closed == actions.count("isolate_string") >= len(isolating) // 2
    assert all(s.contactor_closed for s in history.plant.strings)
