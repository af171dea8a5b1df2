"""Wiring of one edge process: site file, protocol, spool, collector, uplink and shutdown."""

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edge.can.command_frames import CommandFrame
from edge.can.protocol import Protocol, load_protocol
from edge.collector import Collector
from edge.config import EdgeSettings
from edge.control.bus_commands import BusCommander
from edge.control.commands import CommandRunner
from edge.control.journal import Journal
from edge.control.policy import Policy, check_codes
from edge.control.policy_runner import PolicyRunner
from edge.counters import Counters
from edge.site import SiteFile, load_site_file
from edge.stop_request import requested as stop_requested_early
from edge.uplink.sender import Uplink
from edge.uplink.spool import Spool

log = logging.getLogger("edge")


@dataclass
class EdgeProcess:
    """The parts of a running edge and the event that stops them."""

    site: SiteFile
    protocol: Protocol
    settings: EdgeSettings
    counters: Counters = field(default_factory=Counters)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        if self.site.policy is not None:
            check_codes(self.site.policy, self.protocol.fault_names)
        max_bytes = int(self.site.collector.spool_max_mb * 1024 * 1024)
        self.spool = Spool(
            self.settings.spool_for(self.site.site.code),
            max_bytes=max_bytes,
            dead_max=self.site.collector.dead_letters_max,
        )
        self.collector = Collector(self.site, self.protocol, self.spool, self.counters)
        self.uplink = Uplink(
            self.spool,
            self.counters,
            base_url=str(self.settings.backend_url),
            token=self.settings.token.get_secret_value(),
            on_confirmed=self.collector.announcements.confirmed,
        )
        self.uplink_thread = threading.Thread(target=self.uplink.run, name="uplink", daemon=True)
        self.commands: CommandRunner | None = None
        self.policy: PolicyRunner | None = None

    @classmethod
    def from_settings(cls, settings: EdgeSettings, site_path: Path | None = None) -> "EdgeProcess":
        """Load the site file and its protocol."""
        site = load_site_file(site_path or settings.site_config)
        return cls(site, load_protocol(site.mapping), settings)

    def start_commands(self, send: Callable[[CommandFrame], None]) -> None:
        """Start the command channel and the local policy, when the protocol has commands."""
        frames = self.protocol.commands
        if frames is None:
            log.info(
                "protocol %s has no [commands]: no commands, no local policy", self.protocol.name
            )
            return
        journal = Journal(
            self.settings.spool_for(self.site.site.code).with_suffix(".commands.sqlite3")
        )
        commander = BusCommander(frames, self.collector, send)
        self.commands = CommandRunner.connect(
            base_url=str(self.settings.backend_url),
            token=self.settings.token.get_secret_value(),
            commander=commander,
            journal=journal,
            strings=self.site.site.strings,
        )
        threading.Thread(target=self.commands.run, name="commands", daemon=True).start()
        if self.site.policy is None:
            log.info(
                "site %s has no [policy]: the edge takes no action of its own", self.site.site.code
            )
            return
        self.policy = PolicyRunner(
            Policy(self.site.policy, can_bypass=frames.supports("isolate_module")),
            commander,
            journal,
            self.commands.client,
            edge_id=self.spool.edge_id,
            strings=self.site.site.strings,
            string_rated_a=self.site.site.string_rated_a,
        )
        self.collector.assembler.listener = self.policy.observe
        threading.Thread(target=self.policy.run, name="policy", daemon=True).start()

    def start_uplink(self) -> None:
        """Start sending spooled batches in the background."""
        self.uplink_thread.start()

    def stop_on_signals(self) -> None:
        """SIGINT and SIGTERM stop the collector gracefully."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop.set())
        if stop_requested_early.is_set():
            log.info("asked to stop while starting: flushing and stopping")
            self.stop.set()

    def drain(self, timeout_s: float) -> bool:
        """Wait until the backend has confirmed every spooled batch; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self.spool.depth() and time.monotonic() < deadline:
            time.sleep(0.1)
        left = self.spool.depth()
        if left:
            log.warning(
                "the backend did not confirm %d batches within %g s; they stay in the "
                "spool for the next run",
                left,
                timeout_s,
            )
        return left == 0

    def close(self) -> None:
        """Stop the command channel and the uplink, and close the spool."""
        if self.policy is not None:
            self.policy.stop()
        if self.commands is not None:
            self.commands.stop()
        self.uplink.close()
        if self.uplink_thread.is_alive():
            self.uplink_thread.join(timeout=5)
        self.spool.close()
