"""The edge's command path on a real virtual CAN bus with the simulated BMS: a delivery is
carried out once even when repeated or after a restart, and the edge vetoes on its own data."""

import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import can
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from edge.assemble import Snapshot
from edge.collector import Collector
from edge.commands import CommandRunner, edge_refusal
from edge.counters import Counters
from edge.journal import Journal
from edge.protocol import load_protocol
from edge.sim.runner import Simulator
from edge.site import load_site_file
from edge.sources import bus_frames, to_message
from edge.spool import Spool
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

    def runner(self) -> CommandRunner:
        """A command runner as the edge builds one (its journal survives across runners)."""
        protocol = self.collector.decoder.protocol
        assert protocol.commands is not None
        return CommandRunner.connect(
            base_url=self.server.url, token=self.site.token, frames=protocol.commands,
            collector=self.collector, send=lambda f: self.edge_bus.send(to_message(f)),
            journal=Journal(self.tmp / "commands.sqlite3"), strings=2,
        )  # fmt: skip


@pytest.fixture
async def rig(engine: AsyncEngine, server: LiveServer, tmp_path: Path) -> AsyncIterator[Rig]:
    """Everything running; stopped afterwards."""
    site = await committed_device_site(engine)
    site_file = load_site_file(
        write_site_file(tmp_path, code=site.code, mapping=REFERENCE_MAPPING,
                        simulator="frame_period_s = 0.25\nacceleration = 60")
    )  # fmt: skip
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
    yield Rig(collector, edge_bus, seen, site, server, tmp_path)
    stop.set()
    simulator.stop()
    for thread in [*threads, simulator]:
        thread.join(timeout=5)
    for bus in (sim_bus, edge_bus, spy_bus):
        bus.shutdown()


def delivered(rig: Rig, **request: Any) -> dict[str, Any]:
    """Queue a command at the backend and take it as the edge's poll would."""
    body = {"reason": "maintenance", "note": "edge test", **request}
    queued = httpx.post(f"{rig.server.url}/api/v1/sites/{rig.site.code}/commands", json=body)
    assert queued.status_code == 201, queued.text
    polled = httpx.get(
        f"{rig.server.url}/api/v1/edge/commands",
        headers={"Authorization": f"Bearer {rig.site.token}"},
    ).json()
    command: dict[str, Any] = next(c for c in polled if c["id"] == queued.json()["id"])
    return command


def state(rig: Rig, command_id: int) -> dict[str, Any]:
    """The command as the backend has it."""
    listed = httpx.get(f"{rig.server.url}/api/v1/sites/{rig.site.code}/commands").json()
    found: dict[str, Any] = next(c for c in listed if c["id"] == command_id)
    return found


def test_a_repeated_delivery_is_carried_out_once(rig: Rig) -> None:
    command = delivered(rig, kind="derate", string=1, pct=60)
    first = rig.runner()
    first.handle(command)
    first.handle(command)  # the same delivery again (a repeated poll)
    first.stop()
    again = rig.runner()  # an edge restart: a new runner on the same journal
    again.handle(command)
    again.stop()
    assert len(rig.commands_seen) == 1
    assert state(rig, command["id"])["state"] in ("acked", "verified")


def test_an_interrupted_command_is_not_repeated_after_a_restart(rig: Rig) -> None:
    command = delivered(rig, kind="reset_alarms", string=2)
    runner = rig.runner()
    runner.journal.start(command["id"], 0.0)  # started, then the edge died before finishing
    runner.handle(command)
    runner.stop()
    assert rig.commands_seen == []
    after = state(rig, command["id"])
    assert after["state"] == "failed"
    assert "restarted" in after["result"]["detail"]


def test_a_command_that_expired_in_transit_is_not_sent(rig: Rig) -> None:
    command = delivered(rig, kind="reset_alarms", string=1)
    command["expires_at"] = "2020-01-01T00:00:00+00:00"  # the poll answer came too late
    runner = rig.runner()
    runner.handle(command)
    runner.stop()
    assert rig.commands_seen == []
    assert state(rig, command["id"])["result"]["detail"] == "expired before the edge could send it"


def snapshot(string: int, closed: bool, current: float, limit: float = 140.0) -> Snapshot:
    """A string snapshot as the collector keeps it."""
    values = {"contactor_closed": 1.0 if closed else 0.0, "current_a": current,
              "charge_limit_a": limit, "discharge_limit_a": limit}  # fmt: skip
    return Snapshot(0.0, string, 0, values, (), (), 0)


def test_the_edge_vetoes_on_what_it_sees() -> None:
    isolate = {"kind": "isolate_string", "string": 1}
    alone = {1: snapshot(1, True, 0.0), 2: snapshot(2, False, 0.0)}
    busy = {1: snapshot(1, True, -100.0), 2: snapshot(2, True, -100.0)}
    fine = {1: snapshot(1, True, -50.0), 2: snapshot(2, True, -50.0)}
    assert edge_refusal(isolate, alone) == "edge interlock: this is the last connected string"
    assert edge_refusal(isolate, busy) == (
        "edge interlock: 200 A would exceed the remaining strings' 140 A"
    )
    assert edge_refusal(isolate, fine) is None
    assert edge_refusal({"kind": "derate", "string": 1}, alone) is None
