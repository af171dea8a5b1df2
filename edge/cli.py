"""Edge command line: run, simulate, replay, backfill, check-config, suggest-mapping, spool."""

import argparse
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import can

from edge import stop_request
from edge.app import EdgeProcess
from edge.can.check_config import render_table
from edge.can.decode import Frame
from edge.can.mapping import MappingError, is_site_file, read_toml
from edge.can.mapping_warnings import warnings
from edge.can.protocol import load_protocol
from edge.can.sources import BusRecorder, bus_frames, log_frames, open_buses, to_message
from edge.config import EdgeSettings
from edge.counters import Counters
from edge.dry_run import dry_run, summary
from edge.sim.backfill import backfill
from edge.sim.faults import Fault
from edge.sim.runner import Simulator
from edge.site import SiteFileError, load_site_file
from edge.suggest import suggest_mapping
from edge.uplink import spool_cli

log = logging.getLogger("edge")
Number = TypeVar("Number", int, float)


def _bounded(kind: type[Number], low: Number, high: Number) -> Callable[[str], Number]:
    """An argparse type: a number of `kind` from `low` to `high`, or an error saying why."""

    def parse(text: str) -> Number:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low} to {high}, got {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    """One sub-command per way of running the edge."""
    parser = argparse.ArgumentParser(prog="python -m edge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check-config", help="validate a DBC + mapping pair, print the table")
    check.add_argument(
        "mapping", type=Path, help="mapping TOML file (names its DBC), or a site file"
    )
    suggest = sub.add_parser(
        "suggest-mapping", help="write a draft mapping for a vendor's DBC, KCD, SYM or ARXML"
    )
    suggest.add_argument("database", type=Path, help="the vendor's CAN database")
    suggest.add_argument(
        "--out", type=Path, help="write the draft to this .toml (default: print it)"
    )
    run = sub.add_parser("run", help="collect from the site's CAN buses")
    run.add_argument("--config", type=Path, help="site file (default RIDETHROUGH_EDGE_SITE_CONFIG)")
    sim = sub.add_parser("simulate", help="simulated BMS + collector on a virtual bus")
    sim.add_argument("--config", type=Path, help="site file (default RIDETHROUGH_EDGE_SITE_CONFIG)")
    sim.add_argument(
        "--fault",
        action="append",
        default=[],
        type=Fault.parse,
        help="inject a fault, e.g. cell_ov:string=1,module=3,cell=5,at=30",
    )
    sim.add_argument(
        "--record",
        type=Path,
        help="also write every frame on the simulated bus to this candump log (ground truth)",
    )
    backfill = sub.add_parser(
        "backfill", help="generate the site's history with the simulator and send it (once)"
    )
    backfill.add_argument(
        "--config", type=Path, help="site file (default RIDETHROUGH_EDGE_SITE_CONFIG)"
    )
    backfill.add_argument(
        "--days",
        type=_bounded(int, 1, 365),
        default=30,
        help="days of history, 1 to 365 (default 30)",
    )
    backfill.add_argument(
        "--period",
        type=_bounded(float, 60, 3600),
        default=300.0,
        help="seconds between samples, 60 to 3600 (default 300)",
    )
    replay = sub.add_parser("replay", help="collect from a recorded log and send it")
    replay.add_argument("file", type=Path, help="candump .log, .asc, .blf or .trc")
    replay.add_argument(
        "--config", type=Path, help="site file (default RIDETHROUGH_EDGE_SITE_CONFIG)"
    )
    replay.add_argument("--realtime", action="store_true", help="at the original speed")
    spool_cli.add_parser(sub)
    replay.add_argument(
        "--dry-run", action="store_true", help="no backend: print what would be sent and dropped"
    )
    replay.add_argument("--csv", type=Path, help="with --dry-run: write every sample to this CSV")
    replay.add_argument(
        "--trc-timezone",
        help="the zone of the PC that recorded a PCAN .trc (its start time is local), "
        "e.g. Europe/Berlin; default UTC",
    )
    return parser


def live(
    edge: EdgeProcess, buses: list[can.BusABC], on_stop: Callable[[], None] = lambda: None
) -> int:
    """Collect from open buses until stopped, then drain the spool and close."""
    edge.stop_on_signals()
    edge.start_uplink()
    # Commands go out on the site's first bus (where the BMS listens).
    edge.start_commands(lambda frame: buses[0].send(to_message(frame)))
    try:
        edge.collector.run(bus_frames(buses, edge.stop), clock="wall")
    finally:
        on_stop()
        for bus in buses:
            bus.shutdown()
        edge.collector.flush(time.time())
        edge.drain(edge.settings.drain_timeout_s)
        edge.close()
    return 0


def simulate(edge: EdgeProcess, faults: list[Fault], record: Path | None = None) -> int:
    """Run the simulated BMS and the collector on a shared virtual bus."""
    channel = f"sim-{edge.site.site.code}"
    sim_bus = can.Bus(interface="virtual", channel=channel)
    collector_bus = can.Bus(interface="virtual", channel=channel)
    recorder = None if record is None else BusRecorder(channel, record)
    simulator = Simulator(edge.site, edge.protocol, sim_bus, faults)
    simulator.start()
    log.info(
        "simulating site %s (%d strings x %d modules) at %gx",
        edge.site.site.code,
        edge.site.site.strings,
        edge.site.site.modules_per_string,
        edge.site.simulator.acceleration,
    )

    def stop_simulating() -> None:
        # The simulated BMS stops with the collector, so that it sends nothing that no one
        # reads (and records nothing as sent that the edge could not have seen).
        simulator.stop()
        simulator.join(timeout=5)
        if recorder is not None:
            recorder.close()

    try:
        return live(edge, [collector_bus], on_stop=stop_simulating)
    finally:
        stop_simulating()
        sim_bus.shutdown()


def replay(edge: EdgeProcess, path: Path, *, realtime: bool, zone: str | None = None) -> int:
    """Send a recorded log through the collector; exit once the backend has confirmed it all."""
    edge.stop_on_signals()
    edge.start_uplink()
    try:
        frames: Iterator[Frame | None] = log_frames(
            path, edge.counters, realtime=realtime, trc_zone=zone
        )
        edge.collector.run(frames, clock="frames")
        drained = edge.drain(edge.settings.drain_timeout_s)
    finally:
        edge.close()
    log.info("replayed %s: %s", path.name, edge.counters.snapshot())
    if not drained:
        return 1  # the spool keeps them (drain said how many)
    return 0


def dispatch(args: argparse.Namespace, settings: EdgeSettings) -> int:
    """Run the chosen sub-command."""
    offline = OFFLINE.get("dry-run" if args.command == "replay" and args.dry_run else args.command)
    if offline is not None:
        # Offline commands stop the usual way; one asked to stop while starting does not run.
        return (
            STOPPED_WHILE_STARTING if stop_request.restore_defaults() else offline(args, settings)
        )
    edge = EdgeProcess.from_settings(settings, args.config)
    if args.command == "simulate":
        configured = [Fault.parse(text) for text in edge.site.simulator.faults]
        return simulate(edge, configured + args.fault, args.record)
    if args.command == "replay":
        return replay(edge, args.file, realtime=args.realtime, zone=args.trc_timezone)
    return live(edge, open_buses(list(edge.site.bus)))


def check_config(args: argparse.Namespace, settings: EdgeSettings) -> int:
    """Print the mapping's signal table and warnings."""
    print(check(args.mapping))
    return 0


def suggest(args: argparse.Namespace, settings: EdgeSettings) -> int:
    """Print or write a draft mapping for a database; never overwrite a mapping."""
    out: Path | None = args.out
    if out is not None and out.exists():
        raise ValueError(
            f"--out {out} exists; give a new file name (a draft never overwrites "
            "a mapping you may have edited)"
        )
    text = suggest_mapping(args.database, out)
    if out is None:
        print(text, end="")
        return 0
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}; read its GUESS and TODO comments, then: python -m edge check-config {out}")
    return 0


def replay_dry_run(args: argparse.Namespace, settings: EdgeSettings) -> int:
    """Decode and assemble a log without a backend; print (or write) what would be sent."""
    site = load_site_file(args.config or settings.site_config)
    counters = Counters()
    frames = log_frames(args.file, counters, trc_zone=args.trc_timezone)
    protocol = load_protocol(site.mapping)
    with args.csv.open("w", newline="") if args.csv else nullcontext() as out:
        result = dry_run(site, protocol, frames, out, counters)
    print(summary(result, args.file))
    return 0


def run_backfill(args: argparse.Namespace, settings: EdgeSettings) -> int:
    """Send a simulated history through ingest; print its end time."""
    span = backfill(
        settings,
        args.config or settings.site_config,
        days=args.days,
        period_s=args.period,
        now=time.time(),
    )
    if span is None:
        return 1
    # The history's end on stdout (the log goes to stderr): `make run` acknowledges the
    # alarms before it as the demo's operator.
    print(datetime.fromtimestamp(span.end, UTC).isoformat())
    return 0


STOPPED_WHILE_STARTING = 128 + 15  # the shell's code for a SIGTERM

# Sub-commands that need no edge process (no buses, no uplink).
OFFLINE: dict[str, Callable[[argparse.Namespace, EdgeSettings], int]] = {
    "check-config": check_config,
    "suggest-mapping": suggest,
    "dry-run": replay_dry_run,
    "backfill": run_backfill,
    "spool": spool_cli.run,
}


def check(path: Path) -> str:
    """check-config's report: the signal table, then warnings; a site file checks its mapping."""
    site = load_site_file(path) if is_site_file(read_toml(path)) else None
    protocol = load_protocol(site.mapping if site else path)
    found = warnings(protocol, site)
    lines = [render_table(protocol)]
    if site is not None:
        lines.insert(0, f"site file {path.name}: checking its mapping {site.mapping}")
    lines += [f"warning: {text}" for text in found]
    if found:
        lines.append(f"{len(found)} warnings")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    settings = EdgeSettings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # One line per HTTP request is noise at 1 Hz; the uplink logs failures itself.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        return dispatch(args, settings)
    except MappingError as exc:
        print(f"error: {exc.source}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    except (SiteFileError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # check-config and replay must never answer with a traceback
        log.exception("unexpected error")
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
