"""Backend command line: `python -m app load-sites FILE`, `seed-demo`, `serve`."""

import argparse
import asyncio
import secrets
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn

from app.auth.permissions import Role
from app.auth.service import save_user
from app.config import get_settings
from app.core.db import create_engine, create_sessionmaker
from app.core.jobs import retention_once, rollup_once
from app.ingest.repository import rejection_summary
from app.sites.repository import site_id_by_code
from app.sites.service import (
    DEMO_FLEET_FILE,
    DuplicateDeviceError,
    FleetConfigError,
    UnknownSiteError,
    apply_fleet_config,
    create_edge_device,
    load_fleet_config,
)


async def load_sites(path: Path) -> None:
    """Apply a site configuration file in one transaction and report what changed."""
    fleet = load_fleet_config(path)
    engine = create_engine(get_settings())
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            applied = await apply_fleet_config(session, fleet=fleet)
    finally:
        await engine.dispose()
    for site in applied:
        print(
            f"site {site.code}: id {site.site_id}, {len(site.rack_ids)} strings, "
            f"{site.new_modules} new modules"
        )


async def new_edge_device(site_code: str, name: str, *, rotate: bool) -> None:
    """Register an edge device and print its token, which is shown this once only."""
    engine = create_engine(get_settings())
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            token = await create_edge_device(session, site_code=site_code, name=name, rotate=rotate)
    finally:
        await engine.dispose()
    print(token)
    print(
        f"edge device {name!r} for site {site_code}: store this token now; it is not shown again",
        file=sys.stderr,
    )


async def save_user_now(username: str, role: str, sites: str, *, password_stdin: bool) -> None:
    """Create or reset a user; a generated password is printed this once."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(12)
    engine = create_engine(get_settings())
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            codes = [c.strip() for c in sites.split(",") if c.strip()] or None
            await save_user(session, username=username, password=password, role=Role(role),
                            site_codes=codes)  # fmt: skip
    finally:
        await engine.dispose()
    if not password_stdin:
        print(password)
    where = f"sites {sites}" if sites else "every site"
    print(f"user {username!r}: {role} on {where}", file=sys.stderr)


async def run_job(name: str) -> None:
    """Run one background job now (for cron, or after a bulk import)."""
    settings = get_settings()
    engine = create_engine(settings)
    try:
        if name == "rollup":
            print(f"rolled up {await rollup_once(create_sessionmaker(engine))} minutes")
        else:
            await retention_once(create_sessionmaker(engine), settings)
            print("retention applied")
    finally:
        await engine.dispose()


async def show_rejections(site_code: str, hours: float) -> None:
    """Print what ingest refused for a site, grouped by section and reason."""
    engine = create_engine(get_settings())
    since = datetime.now(UTC) - timedelta(hours=hours)
    try:
        async with create_sessionmaker(engine)() as session:
            site_id = await site_id_by_code(session, site_code)
            if site_id is None:
                raise UnknownSiteError(f"no site with code {site_code!r}")
            rows = await rejection_summary(session, site_id=site_id, since=since)
    finally:
        await engine.dispose()
    print(
        f"rows refused at ingest for {site_code} in the last {hours:g} h: {sum(r[2] for r in rows)}"
    )
    for section, reason, count, last in rows:
        print(f"{count:>8}  {section:<8} {reason}  (last {last.isoformat(timespec='seconds')})")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per task."""
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("load-sites", help="create or update sites from a TOML file")
    load.add_argument("file", type=Path)
    sub.add_parser("seed-demo", help="create the demo fleet (idempotent)")
    device = sub.add_parser("create-edge-device", help="register an edge device, print its token")
    device.add_argument("--site", required=True, help="site code")
    device.add_argument("--name", required=True, help="device name, unique within the site")
    device.add_argument("--rotate", action="store_true", help="new token for an existing device")
    user = sub.add_parser("create-user", help="create a user (or reset one), print the password")
    user.add_argument("--username", required=True)
    user.add_argument("--role", required=True, choices=[r.value for r in Role])
    user.add_argument("--sites", default="", help="comma-separated site codes (default: all)")
    user.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    rejections = sub.add_parser("rejections", help="what ingest refused for a site, by reason")
    rejections.add_argument("--site", required=True, help="site code")
    rejections.add_argument("--hours", type=float, default=24.0, help="look-back window")
    sub.add_parser("rollup", help="bring the one-minute rollups up to date now")
    sub.add_parser("retention", help="drop raw and rollup chunks past their retention now")
    serve = sub.add_parser("serve", help="run the backend with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--no-access-log", action="store_true", help="do not log every request")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "load-sites":
            asyncio.run(load_sites(args.file))
        elif args.command == "seed-demo":
            asyncio.run(load_sites(DEMO_FLEET_FILE))
        elif args.command == "create-edge-device":
            asyncio.run(new_edge_device(args.site, args.name, rotate=args.rotate))
        elif args.command == "create-user":
            asyncio.run(save_user_now(args.username, args.role, args.sites,
                                      password_stdin=args.password_stdin))  # fmt: skip
        elif args.command == "rejections":
            asyncio.run(show_rejections(args.site, args.hours))
        elif args.command in ("rollup", "retention"):
            asyncio.run(run_job(args.command))
        elif args.command == "serve":
            uvicorn.run(
                "app.main:create_app",
                factory=True,
                host=args.host,
                port=args.port,
                workers=args.workers,
                log_level="info",
                access_log=not args.no_access_log,
                # Long polls and event streams would otherwise hold a shutdown open.
                timeout_graceful_shutdown=5,
            )
    except (FleetConfigError, UnknownSiteError, DuplicateDeviceError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
