"""`python -m edge run`'s live path: buses opened from the site file, collected until stopped."""

import signal
import threading
import uuid
from pathlib import Path

import can
import psycopg
from pydantic import AnyHttpUrl, SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from edge.app import EdgeProcess
from edge.can.sources import open_buses
from edge.cli import live
from edge.config import EdgeSettings
from edge.sim.runner import Simulator
from tests.db import psycopg_dsn
from tests.edge_process import REFERENCE_MAPPING, write_site_file
from tests.factories import committed_device_site
from tests.server import LiveServer


async def test_live_collection_from_configured_buses(
    server: LiveServer, engine: AsyncEngine, test_database_url: str, tmp_path: Path
) -> None:
    site = await committed_device_site(engine)
    site_file = write_site_file(
        tmp_path, code=site.code, mapping=REFERENCE_MAPPING, simulator="frame_period_s = 0.25"
    )
    channel = f"live-{uuid.uuid4()}"
    site_file.write_text(
        site_file.read_text().replace(f'channel = "{site.code}"', f'channel = "{channel}"')
    )
    settings = EdgeSettings(
        backend_url=AnyHttpUrl(server.url),
        token=SecretStr(site.token),
        spool_path=tmp_path / "spool.sqlite3",
        drain_timeout_s=20,
    )
    edge = EdgeProcess.from_settings(settings, site_file)
    sim_bus = can.Bus(interface="virtual", channel=channel)
    simulator = Simulator(edge.site, edge.protocol, sim_bus)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    simulator.start()
    threading.Timer(4.0, edge.stop.set).start()
    try:
        assert live(edge, open_buses(list(edge.site.bus))) == 0
    finally:
        simulator.stop()
        simulator.join(timeout=5)
        sim_bus.shutdown()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)

    with psycopg.connect(psycopg_dsn(test_database_url)) as conn:
        rows = conn.execute(
            "SELECT count(DISTINCT s.module_id), count(*) FROM module_sample s "
            "JOIN module m ON m.id = s.module_id JOIN rack r ON r.id = m.rack_id "
            "WHERE r.site_id = %s",
            (site.site_id,),
        ).fetchone()
    assert rows is not None
    modules, samples = rows
    assert modules == len(site.module_ids)
    assert samples >= modules * 2
