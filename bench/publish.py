"""Run the benchmarks and write their figures into docs/BENCHMARKS.md: `make bench`.

Each benchmark's output replaces the block between `<!-- results:NAME -->` and
`<!-- /results:NAME -->`, and a description of this machine replaces the `machine` block; the
method and analysis around them are prose kept by hand. `--quick` runs smaller sizes (to check
the machinery; the published figures come from full runs), `--only NAME` re-runs some.
Run: .venv/bin/python -m bench.publish [--quick] [--only ingest --only load]
"""

import argparse
import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from app.config import PROJECT_ROOT
from tests.db import BASE_URL, psycopg_dsn

DOC = PROJECT_ROOT / "docs" / "BENCHMARKS.md"
# The fleet load through the whole CAN path, with this many sites.
CAN = ["--feed", "can", "--sites"]
# block name -> (benchmark module, full-size arguments, quick arguments)
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "edge_decode": ("edge_decode", [], ["--frames", "20000", "--repeats", "2"]),
    "ingest": (
        "ingest",
        [],
        ["--strings", "8", "--batches", "10", "--rounds", "1", "--sites", "2"],
    ),
    "queries": ("queries", [], ["--small", "--repeats", "10"]),
    "site_page": ("site_page", [], ["--strings", "8", "--requests", "20"]),
    "commands": ("commands", ["-n", "20"], ["-n", "5"]),
    "policy": ("policy", ["-n", "30"], ["-n", "5"]),
    "export": ("export", [], ["--small"]),
    "export_storm": ("export_storm", [], ["--batches", "5"]),
    "load": ("load", [], ["--sites", "4", "--minutes", "0.5", "--warmup", "10"]),
    "load_can": ("load", [*CAN, "5"], [*CAN, "2", "--minutes", "0.5", "--warmup", "10"]),
    "load_can_10": ("load", [*CAN, "10"], [*CAN, "3", "--minutes", "0.5", "--warmup", "10"]),
    "load_can_20": ("load", [*CAN, "20"], [*CAN, "4", "--minutes", "0.5", "--warmup", "10"]),
}


def machine(only: list[str]) -> str:
    """This machine and its software, as the results were measured on it."""
    with open("/proc/cpuinfo") as cpuinfo:
        model = next(
            (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
            platform.machine(),
        )
    with open("/proc/meminfo") as meminfo:
        ram_gb = int(meminfo.readline().split()[1]) / 1024**2
    with psycopg.connect(psycopg_dsn(BASE_URL)) as conn:
        row = conn.execute(
            "SELECT current_setting('server_version'), (SELECT extversion FROM pg_extension "
            "WHERE extname = 'timescaledb')"
        ).fetchone()
    assert row is not None
    return (
        f"- CPU: {os.cpu_count()} x {model}; RAM {ram_gb:.0f} GB; {platform.platform()}\n"
        f"- Python {platform.python_version()}; PostgreSQL {row[0]}; TimescaleDB {row[1]}\n"
        f"- Published {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `make bench`"
        + (
            f" re-running only {', '.join(only)}; each block's first line says when it ran"
            if only
            else ""
        )
    )


def run_benchmark(module: str, arguments: list[str]) -> str:
    """Run one benchmark and return the block to publish (its command and its output)."""
    command = [sys.executable, "-m", f"bench.{module}", *arguments]
    print(f"==> {' '.join(command[1:])}", flush=True)
    started = datetime.now(UTC)
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    print(result.stdout, flush=True)
    if result.returncode not in (0, 1):  # 1: ran, but a target was not met
        raise SystemExit(f"bench.{module} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    shown = " ".join(["python -m", f"bench.{module}", *arguments])
    return (
        f"Last run {started:%Y-%m-%d %H:%M} UTC: `{shown}`\n\n```text\n{result.stdout.strip()}\n```"
    )


def replace_block(text: str, name: str, content: str) -> str:
    """Put `content` between the `<!-- NAME -->` and `<!-- /NAME -->` markers."""
    pattern = re.compile(rf"(<!-- {re.escape(name)} -->\n).*?(\n<!-- /{re.escape(name)} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"{DOC.name} has no <!-- {name} --> ... <!-- /{name} --> block")
    return pattern.sub(lambda m: m.group(1) + content + m.group(2), text)


def main() -> None:
    """Run the chosen benchmarks and rewrite their blocks of docs/BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, to check the setup")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), default=[])
    args = parser.parse_args()
    text = replace_block(DOC.read_text(), "machine", machine(args.only))
    for name in args.only or list(BENCHMARKS):
        module, full, quick = BENCHMARKS[name]
        block = run_benchmark(module, quick if args.quick else full)
        text = replace_block(text, f"results:{name}", block)
        DOC.write_text(text)  # after each benchmark, so a long run keeps what it measured
    DOC.write_text(text)
    print(f"wrote {DOC.relative_to(Path.cwd()) if DOC.is_relative_to(Path.cwd()) else DOC}")


if __name__ == "__main__":
    main()
