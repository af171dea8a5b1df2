"""Fault frame to isolation under the edge's local policy, on a real virtual CAN bus.

The simulated BMS (reference protocol, 3 strings x 4 modules, frames every 0.5 s) and the real
edge parts (collector, policy, bus commander) share a python-can virtual bus in one process; no
backend is needed, as the policy works without it. Each trial injects a cell over-voltage above
the 3.65 V alarm level on one module, measures from the frame that showed the alarm bit to the
frame that showed the string's contactor open (the two times the isolation record keeps), then
repairs the cell, resets the latched alarm and returns the string. The same-run baseline is a
bare command round trip on the same bus: command frame sent to its ACK read.
Target (issue #6): fault frame -> isolation p95 < 500 ms. Run: .venv/bin/python -m bench.policy
"""

import argparse
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import can

from bench.common import percentiles
from edge.can.events import Event, EventKind
from edge.can.protocol import load_protocol
from edge.can.sources import bus_frames, to_message
from edge.collector import Collector
from edge.control.bus_commands import BusCommander, Order
from edge.control.journal import Journal
from edge.control.policy import Policy
from edge.control.policy_runner import PolicyRunner
from edge.counters import Counters
from edge.sim.faults import Fault, FaultKind
from edge.sim.runner import Simulator
from edge.site import PolicyConfig, load_site_file
from edge.uplink.spool import Spool
from tests.edge_process import REFERENCE_MAPPING, write_site_file

STRINGS, MODULES = 3, 4
POLICY = PolicyConfig(warning=["cell_ov_warning"], alarm=["cell_ov_alarm"])
WAIT_S = 3.0


class Watch:
    """Times of the alarm frames and contactor frames the collector saw, per string."""

    def __init__(self) -> None:
        self.alarm_at: dict[int, float] = {}
        self.opened_at: dict[int, float] = {}
        self.closed = threading.Event()

    def events(self, events: list[Event]) -> None:
        """Listener: note the times, in the collector's thread."""
        for event in events:
            if event.kind is EventKind.FAULT_RAISED and event.code == "cell_ov_alarm":
                self.alarm_at.setdefault(event.string, event.ts)
            elif event.kind is EventKind.CONTACTOR_OPENED:
                self.opened_at.setdefault(event.string, event.ts)
            elif event.kind is EventKind.CONTACTOR_CLOSED:
                self.closed.set()


def _wait(check: Callable[[], bool], timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.005)
    return False


class Bench:
    """The rig: simulator, collector, policy; and the trials."""

    def __init__(self, tmp: Path) -> None:
        site = load_site_file(
            write_site_file(
                tmp,
                code="bench-policy",
                mapping=REFERENCE_MAPPING,
                strings=STRINGS,
                modules=MODULES,
                simulator="setpoint_kw = 20",
            )
        )
        protocol = load_protocol(REFERENCE_MAPPING)
        assert protocol.commands is not None
        self.buses = [can.Bus(interface="virtual", channel="bench-policy") for _ in range(2)]
        self.simulator = Simulator(site, protocol, self.buses[0])
        self.collector = Collector(site, protocol, Spool(tmp / "spool.sqlite3"), Counters())
        send_bus = self.buses[1]
        self.commander = BusCommander(
            protocol.commands, self.collector, lambda f: send_bus.send(to_message(f))
        )
        self.policy = PolicyRunner(
            Policy(POLICY, can_bypass=True),
            self.commander,
            Journal(tmp / "journal.sqlite3"),
            None,
            edge_id="bench",
            strings=STRINGS,
            string_rated_a=140,
        )
        self.watch = Watch()
        self.collector.assembler.listener = self._listen
        self.stop = threading.Event()
        self.next_id = 1

    def _listen(self, events: list[Event]) -> None:
        self.watch.events(events)
        self.policy.observe(events)

    def start(self) -> None:
        """Start every thread and wait for the strings to report."""
        self.simulator.start()
        threading.Thread(target=self._collect, daemon=True).start()
        threading.Thread(target=self.policy.run, daemon=True).start()
        readings = self.commander.string_readings
        assert _wait(lambda: len(readings()) == STRINGS, 5), "no string telemetry"

    def _collect(self) -> None:
        for frame in bus_frames([self.buses[1]], self.stop):
            if frame is not None:
                self.collector.feed(frame)

    def _order(self, kind: str, string: int) -> float:
        """Carry out one command; returns send -> ACK in ms."""
        self.next_id += 1
        start = time.time()
        outcome = self.commander.carry_out(Order(self.next_id, kind, ((string, 0),), "other"))
        assert outcome.outcome == "acked", outcome
        assert outcome.acked_at is not None
        return (outcome.acked_at - start) * 1000

    def trial(self, n: int) -> tuple[float, float] | None:
        """One fault, isolated by the policy, then put right; (fault->isolation, baseline) ms."""
        string, module = n % STRINGS + 1, n % MODULES + 1
        fault = Fault(FaultKind.CELL_OV, string=string, module=module, cell=5, size=0.4)
        self.watch.alarm_at.pop(string, None)
        self.watch.opened_at.pop(string, None)
        self.simulator.inject(fault)
        isolated = _wait(lambda: string in self.watch.opened_at and string in self.watch.alarm_at)
        self.simulator.repair(fault)
        baseline = self._order("reset_alarms", string)
        self.watch.closed.clear()
        self._order("return_string", string)
        assert self.watch.closed.wait(WAIT_S), f"string {string} did not come back"
        time.sleep(0.6)  # one BMS cycle, so the cleared bits are seen before the next fault
        if not isolated:
            return None
        return (self.watch.opened_at[string] - self.watch.alarm_at[string]) * 1000, baseline

    def close(self) -> None:
        """Stop the threads and the buses."""
        self.stop.set()
        self.policy.stop()
        self.simulator.stop()
        self.simulator.join(timeout=5)
        for bus in self.buses:
            bus.shutdown()


def main() -> None:
    """Run N trials and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=30, help="faults to inject")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # one line per fault and repair is noise here
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp))
        bench.start()
        try:
            results = [bench.trial(n) for n in range(args.n)]
        finally:
            bench.close()
    done = [r for r in results if r is not None]
    isolation, baseline = [r[0] for r in done], [r[1] for r in done]
    (i50, i95), (b50, b95) = percentiles(isolation), percentiles(baseline)
    print(
        f"{args.n} injected cell over-voltages, {args.n - len(done)} not isolated in "
        f"{WAIT_S:g} s; BMS frame period 0.5 s"
    )
    print(f"fault frame -> isolation   p50 {i50:6.0f} ms   p95 {i95:6.0f} ms")
    print(f"baseline: command -> ACK   p50 {b50:6.1f} ms   p95 {b95:6.1f} ms")
    print(f"ratio (p95 / baseline p95): {i95 / b95:5.2f}x")
    verdict = "met" if i95 < 500 and len(done) == args.n else "NOT met"
    print(f"target: fault frame -> isolation p95 < 500 ms: {verdict}")


if __name__ == "__main__":
    main()
