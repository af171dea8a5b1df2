"""`python -m edge spool status|resend`: look at a site's spool, and re-send its dead letters.

Safe while the edge runs: SQLite serialises the two processes, and the running edge notices
the re-sent batches (its uplink sends them as backlog; its byte count is re-summed).
"""

import argparse
import sys
from pathlib import Path

from edge.config import EdgeSettings
from edge.site import load_site_file
from edge.uplink.quarantine import SpoolCorruptError, quarantined
from edge.uplink.spool import Spool


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """The `spool` sub-command and its two actions."""
    spool = sub.add_parser("spool", help="a site's spool: status, or re-send its dead letters")
    spool.add_argument("action", choices=("status", "resend"))
    spool.add_argument(
        "--config", type=Path, help="site file (default RIDETHROUGH_EDGE_SITE_CONFIG)"
    )
    spool.add_argument(
        "--seq",
        type=int,
        action="append",
        help="re-send only this dead letter (repeatable; default: all)",
    )


def open_spool(settings: EdgeSettings, config: Path | None) -> Spool:
    """The site's spool as the edge opens it, but never moving a corrupt file (the edge does)."""
    site = load_site_file(config or settings.site_config)
    return Spool(
        settings.spool_for(site.site.code), repair=False, dead_max=site.collector.dead_letters_max
    )


def status(spool: Spool) -> str:
    """What is waiting, what was refused (and why), what was dropped or moved aside."""
    lines = [
        f"spool {spool.path}: {spool.depth()} batches waiting, "
        f"{spool.dropped_so_far()} dropped when full"
    ]
    dead = spool.dead_list()
    lines.append(
        f"dead letters: {len(dead)} kept (at most {spool.dead_max}), "
        f"{spool.dead_dropped()} dropped past that"
    )
    lines += [f"  batch {seq}: {reason[:200]}" for seq, reason in dead]
    lines += [f"quarantined: {path.name}" for path in quarantined(spool.path)]
    return "\n".join(lines)


def run(args: argparse.Namespace, settings: EdgeSettings) -> int:
    """Print the status, or re-send the dead letters asked for; 1 when none matched."""
    try:
        spool = open_spool(settings, args.config)
    except SpoolCorruptError as exc:
        print(
            f"error: the spool is corrupt ({exc}); the edge moves it aside when it starts",
            file=sys.stderr,
        )
        return 2
    try:
        if args.action == "status":
            print(status(spool))
            return 0
        moved = spool.resend_dead(args.seq)
        print(f"re-queued {len(moved)} dead letters: {', '.join(map(str, moved)) or 'none'}")
        missing = sorted(set(args.seq or ()) - set(moved))
        if missing:
            print(f"no dead letter numbered {', '.join(map(str, missing))}")
        return 1 if missing or not moved else 0
    finally:
        spool.close()
