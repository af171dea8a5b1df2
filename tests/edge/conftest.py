"""The edge on a real virtual CAN bus with the simulated BMS, against a live backend."""

import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import can
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from edge.can.protocol import load_protocol
from edge.can.sources import bus_frames, to_message
from edge.collector import Collector
from edge.control.bus_commands import BusCommander
from edge.control.commands import CommandRunner
from edge.control.journal import Journal
from edge.counters import Counters
from edge.sim.runner import Simulator
from edge.site import load_site_file
from edge.uplink.spool import Spool
from tests.edge_process import REFERENCE_MAPPING, write_site_file
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer

CMD_BASE = 0x3010000  # the reference protocol's CMD id, before its string/module bits


@dataclass
class Rig:
    """A simulated BMS and an edge collector on one virtual channel, plus a frame counter."""

    collector: Collector
    edge_bus: can.BusABC
    commands_seen: list[can.Message]
    site: DeviceSite
    server: LiveServer
    tmp: Path
    simulator: Simulator

    def commander(self) -> BusCommander:
        """What the edge sends command frames with."""
        protocol = self.collector.decoder.protocol
        assert protocol.commands is not None
        return BusCommander(
            protocol.commands, self.collector, lambda f: self.edge_bus.send(to_message(f))
        )

    def journal(self) -> Journal:
        """The edge's command journal (the same file across restarts)."""
        return Journal(self.tmp / "commands.sqlite3")

    def runner(self) -> CommandRunner:
        """A command runner as the edge builds one (its journal survives across runners)."""
        return CommandRunner.connect(
            base_url=self.server.url,
            token=self.site.token,
            commander=self.commander(),
            journal=self.journal(),
            strings=2,
        )


@pytest.fixture
async def rig(engine: AsyncEngine, server: LiveServer, tmp_path: Path) -> AsyncIterator[Rig]:
    """Everything running; stopped afterwards."""
    site = await committed_device_site(engine)
    site_file = load_site_file(
        write_site_file(
            tmp_path,
            code=site.code,
            mapping=REFERENCE_MAPPING,
            simulator="frame_period_s = 0.25\nacceleration = 60\nsetpoint_kw = 20",
        )
    )
    protocol = load_protocol(REFERENCE_MAPPING)
    channel = f"cmd-{uuid.uuid4()}"
    sim_bus, edge_bus, spy_bus = (can.Bus(interface="virtual", channel=channel) for _ in range(3))
    simulator = Simulator(site_file, protocol, sim_bus)
    collector = Collector(site_file, protocol, Spool(tmp_path / "spool.sqlite3"), Counters())
    stop = threading.Event()
    seen: list[can.Message] = []

    def collect() -> None:
        for frame in bus_frames([edge_bus], stop):
            if frame is not None:
                collector.feed(frame)

    def spy() -> None:
        while not stop.is_set():
            message = spy_bus.recv(timeout=0.1)
            if message is not None and message.arbitration_id & 0xFFFF0000 == CMD_BASE:
                seen.append(message)

    threads = [threading.Thread(target=t, daemon=True) for t in (collect, spy)]
    simulator.start()
    for thread in threads:
        thread.start()
    yield Rig(collector, edge_bus, seen, site, server, tmp_path, simulator)
    stop.set()
    simulator.stop()
    for thread in [*threads, simulator]:
        thread.join(timeout=5)
    for bus in (sim_bus, edge_bus, spy_bus):
        bus.shutdown()
