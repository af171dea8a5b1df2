"""Edge command line: run, simulate, replay, check-config."""

import argparse
import sys
from pathlib import Path

from edge.check_config import render_table
from edge.mapping import MappingError
from edge.protocol import load_protocol


def build_parser() -> argparse.ArgumentParser:
    """One sub-command per way of running the edge."""
    parser = argparse.ArgumentParser(prog="python -m edge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check-config", help="validate a DBC + mapping pair, print the table")
    check.add_argument("mapping", type=Path, help="mapping TOML file (names its DBC)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "check-config":
            print(render_table(load_protocol(args.mapping)))
    except MappingError as exc:
        print(f"error: {exc.source}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    return 0
