"""Ground truth for end-to-end tests: what a CAN log says was sent, and what TimescaleDB holds.

The oracle decodes a log with plain cantools, independently of the edge, so a test can check
the whole CAN -> edge -> HTTP -> database path against it sample by sample.
"""

import math
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import can
import cantools

from edge.can.protocol import load_protocol
from edge.sim.faults import Fault
from edge.sim.runner import Simulator
from edge.site import load_site_file
from tests.db import query_rows
from tests.edge_process import REFERENCE_MAPPING

Samples = dict[tuple[int, int, int], tuple[float, ...]]  # (string, module, second) -> cells
REFERENCE_DBC = REFERENCE_MAPPING.parent / "reference.dbc"


@contextmanager
def recording(path: Path, site_file: Path) -> Iterator[Simulator]:
    """The simulated site running on a virtual bus that python-can's candump logger records."""
    site = load_site_file(site_file)
    channel = f"rec-{uuid.uuid4()}"
    sim_bus = can.Bus(interface="virtual", channel=channel)
    rec_bus = can.Bus(interface="virtual", channel=channel)
    logger = can.Logger(str(path))
    notifier = can.Notifier(rec_bus, [logger])
    simulator = Simulator(site, load_protocol(site.mapping), sim_bus)
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()
        simulator.join(timeout=5)
        notifier.stop()
        logger.stop()
        sim_bus.shutdown()
        rec_bus.shutdown()


def record_simulated_log(path: Path, site_file: Path, seconds: float) -> None:
    """Record the simulator's bus traffic with python-can's own candump logger."""
    with recording(path, site_file):
        time.sleep(seconds)


def oracle(path: Path, dbc: Path, cells: int) -> Samples:
    """Expected samples, decoded independently with plain cantools: the last cell values known
    at the end of every second in which a module sent any frame."""
    database = cantools.database.load_file(dbc)
    assert isinstance(database, cantools.database.can.Database)
    known: dict[tuple[int, int], dict[int, float]] = defaultdict(dict)
    seen: set[tuple[int, int]] = set()
    expected: Samples = {}
    second: int | None = None
    for message in can.LogReader(str(path)):
        now = math.floor(message.timestamp)
        if second is not None and now > second:
            expected |= _close(known, seen, second, cells)
        second = now
        decoded = _module_cells(database, message)
        if decoded is not None:
            key, values = decoded
            known[key].update(values)
            seen.add(key)
    assert second is not None
    return expected | _close(known, seen, second, cells)


def _module_cells(
    database: cantools.database.can.Database, message: can.Message
) -> tuple[tuple[int, int], dict[int, float]] | None:
    """(string, module) and {cell index: volts} of a reference module frame, else None."""
    if message.arbitration_id >> 16 not in (0x101, 0x102, 0x103, 0x104):
        return None
    key = ((message.arbitration_id >> 8) & 0xFF, message.arbitration_id & 0xFF)
    if message.arbitration_id >> 16 != 0x101:
        return key, {}
    frame = database.get_message_by_name("MOD_CELL_V").decode(
        bytes(message.data), decode_choices=False
    )
    assert isinstance(frame, dict)
    return key, {
        int(name[6:8]) - 1: round(float(v), 3)
        for name, v in frame.items()
        if name.startswith("CellV_") and not name.endswith("_Ok") and isinstance(v, int | float)
    }


def _close(
    known: dict[tuple[int, int], dict[int, float]],
    seen: set[tuple[int, int]],
    second: int,
    cells: int,
) -> Samples:
    out = {
        (s, m, second): tuple(known[(s, m)][i] for i in range(cells))
        for s, m in seen
        if len(known[(s, m)]) >= cells
    }
    seen.clear()
    return out


def stored(dsn: str, site_id: int) -> Samples:
    """Module samples in TimescaleDB, keyed like the oracle."""
    rows = query_rows(
        dsn,
        "SELECT r.index, m.position, extract(epoch FROM s.ts)::bigint, s.cell_v "
        "FROM module_sample s JOIN module m ON m.id = s.module_id "
        "JOIN rack r ON r.id = m.rack_id WHERE r.site_id = %s",
        site_id,
    )
    return {(r, p, t): tuple(round(v, 3) for v in cells) for r, p, t, cells in rows}


def recorded_truth(path: Path, cells: int = 16) -> Samples:
    """The samples a simulator's recorded log (`simulate --record`) says the edge should store.

    A process killed with SIGKILL may leave half a line at the end of its log: it is cut off.
    """
    text = path.read_text()
    path.write_text(text[: text.rfind("\n") + 1])
    return oracle(path, REFERENCE_DBC, cells)


def sample_counts(dsn: str, site_id: int) -> tuple[int, int]:
    """Module samples of a site in TimescaleDB: all rows, and distinct (module, ts) keys."""
    ((rows, keys),) = query_rows(
        dsn,
        "SELECT count(*), count(DISTINCT (s.module_id, s.ts)) FROM module_sample s "
        "JOIN module m ON m.id = s.module_id JOIN rack r ON r.id = m.rack_id "
        "WHERE r.site_id = %s",
        site_id,
    )
    return int(rows), int(keys)


def command_frames_sent(path: Path, command_id: int) -> int:
    """How many CMD frames carrying a command id a recorded log holds (the edge's sends)."""
    database = cantools.database.load_file(REFERENCE_DBC)
    assert isinstance(database, cantools.database.can.Database)
    cmd = database.get_message_by_name("CMD")
    sent = 0
    for message in can.LogReader(str(path)):
        if message.arbitration_id & ~0xFFFF == cmd.frame_id & ~0xFFFF:
            decoded = cmd.decode(bytes(message.data), decode_choices=False)
            assert isinstance(decoded, dict)
            carried = decoded["CmdId"]
            assert isinstance(carried, int)
            sent += carried == command_id & 0xFFFF
    return sent


@dataclass(frozen=True)
class FaultEdge:
    """A module fault bit's rise (or fall) in a recorded log, with the cell voltages then known."""

    ts: float
    raised: bool
    cells: tuple[float, ...]


def fault_bit_edges(
    path: Path, *, string: int, module: int, bit: int, cells: int
) -> list[FaultEdge]:
    """Every rise and fall of a module's fault bit (its MOD_FLAGS frames), decoded with plain
    cantools, with the module's cell voltages from the frames the BMS sent before each."""
    database = cantools.database.load_file(REFERENCE_DBC)
    assert isinstance(database, cantools.database.can.Database)
    flags = database.get_message_by_name("MOD_FLAGS")
    known: dict[int, float] = {}
    edges: list[FaultEdge] = []
    for message in can.LogReader(str(path)):
        if message.arbitration_id & 0xFFFF != string << 8 | module:
            continue
        decoded = _module_cells(database, message)
        if decoded is not None:
            known.update(decoded[1])
        if message.arbitration_id >> 16 == (flags.frame_id >> 16) & 0x1FFF:
            frame = flags.decode(bytes(message.data), decode_choices=False)
            assert isinstance(frame, dict)
            word = frame["ModFaults"]
            assert isinstance(word, int)
            raised = bool(word >> bit & 1)
            if raised != (edges[-1].raised if edges else False) and len(known) == cells:
                edges.append(
                    FaultEdge(message.timestamp, raised, tuple(known[i] for i in range(cells)))
                )
    return edges


def first_fault_edge(path: Path, *, string: int, module: int, bit: int, cells: int) -> FaultEdge:
    """When a module's fault bit first rose, with the cell voltages the BMS tripped on."""
    edges = fault_bit_edges(path, string=string, module=module, bit=bit, cells=cells)
    assert edges, f"fault bit {bit} of string {string} module {module} never rose"
    return edges[0]


def record_with_fault(
    path: Path, site_file: Path, fault: Fault, *, at: float, repaired_at: float, seconds: float
) -> None:
    """Record the simulator's bus with a fault injected at `at` s and repaired at
    `repaired_at` s (a technician's repair: the fault word falls unless it latched)."""
    with recording(path, site_file) as simulator:
        time.sleep(at)
        simulator.inject(fault)
        time.sleep(repaired_at - at)
        simulator.repair(fault)
        time.sleep(seconds - repaired_at)
