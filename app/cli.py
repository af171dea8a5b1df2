"""Backend command line: `python -m app load-sites FILE`, `seed-demo`, `serve`, and more."""

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms.history_acks import acknowledge_history
from app.auth.passwords import generate_password
from app.auth.permissions import Access, Role
from app.auth.service import save_user
from app.auth.tokens import create_token, list_tokens, revoke_token
from app.config import get_settings
from app.core.db import create_engine, create_sessionmaker
from app.ingest.repository import rejection_summary
from app.jobs import retention_once, rollup_once
from app.notifications.demo import subscribe_demo_user
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


@asynccontextmanager
async def _session() -> AsyncIterator[AsyncSession]:
    """One transaction on a short-lived engine, for a CLI command."""
    engine = create_engine(get_settings())
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            yield session
    finally:
        await engine.dispose()


def _codes(sites: str) -> list[str] | None:
    return [c.strip() for c in sites.split(",") if c.strip()] or None


async def load_sites(path: Path) -> None:
    """Apply a site configuration file in one transaction and report what changed."""
    fleet = load_fleet_config(path)
    async with _session() as session:
        applied = await apply_fleet_config(session, fleet=fleet)
    for site in applied:
        print(
            f"site {site.code}: id {site.site_id}, {len(site.rack_ids)} strings, "
            f"{site.new_modules} new modules"
        )


async def new_edge_device(site_code: str, name: str, *, rotate: bool) -> None:
    """Register an edge device and print its token, which is shown this once only."""
    async with _session() as session:
        token = await create_edge_device(session, site_code=site_code, name=name, rotate=rotate)
    print(token)
    print(
        f"edge device {name!r} for site {site_code}: store this token now; it is not shown again",
        file=sys.stderr,
    )


async def save_user_now(username: str, role: str, sites: str, *, password_stdin: bool) -> None:
    """Create or reset a user; a generated password is printed this once."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else generate_password()
    async with _session() as session:
        await save_user(
            session, username=username, password=password, role=Role(role), site_codes=_codes(sites)
        )
    if not password_stdin:
        print(password)
    where = f"sites {sites}" if sites else "every site"
    print(f"user {username!r}: {role} on {where}", file=sys.stderr)


async def new_api_token(name: str, access: str, sites: str, days: int) -> None:
    """Create an API token and print it, this once only."""
    async with _session() as session:
        secret = await create_token(
            session,
            name=name,
            access=Access(access),
            site_codes=_codes(sites),
            days=days,
            created_by="cli",
            now=datetime.now(UTC),
        )
    print(secret)
    where = f"sites {sites}" if sites else "every site"
    print(
        f"API token {name!r}: {access} on {where} for {days} days; store it now, it is not "
        "shown again",
        file=sys.stderr,
    )


async def show_tokens() -> None:
    """List API tokens (never their secrets)."""
    async with _session() as session:
        tokens = await list_tokens(session)
    now = datetime.now(UTC)
    for t in tokens:
        sites = ",".join(t.site_codes) if t.site_codes else "all sites"
        print(
            f"{t.id}\t{t.name}\t{t.prefix}…\t{t.access}\t{sites}\t{t.status(now)}\t"
            f"expires {t.expires_at:%Y-%m-%d}"
        )


async def end_api_token(token_id: int) -> None:
    """Revoke an API token at once."""
    async with _session() as session:
        name = await revoke_token(session, token_id, by="cli", now=datetime.now(UTC))
    print(f"API token {name!r} revoked", file=sys.stderr)


async def run_job(name: str) -> None:
    """Run one background job now (for cron, or after a bulk import)."""
    settings = get_settings()
    engine = create_engine(settings)
    try:
        if name == "rollup":
            print(f"rolled up {await rollup_once(create_sessionmaker(engine))} minutes")
        else:
            dropped = await retention_once(create_sessionmaker(engine), settings)
            counts = ", ".join(f"{table} {n}" for table, n in dropped.items() if n) or "none"
            print(f"retention applied; chunks dropped: {counts}")
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


async def acknowledge_demo_history(histories: list[tuple[str, datetime]]) -> None:
    """Acknowledge backfilled histories' alarms as the demo's operator would have."""
    async with _session() as session:
        for code, until in histories:
            count = await acknowledge_history(session, until=until, sites=[code])
            print(f"{code}: acknowledged {count} alarms of the history before {until.isoformat()}")


def _site_history(text: str) -> tuple[str, datetime]:
    """An argparse type: CODE=TIME, a site and the end of its history (ISO 8601 with offset)."""
    code, _, when = text.partition("=")
    try:
        moment = datetime.fromisoformat(when)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not CODE=TIME (ISO 8601)") from None
    if not code or moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r}: needs a site code and a time with offset")
    return code, moment


async def demo_notifications(username: str, email: str) -> None:
    """Subscribe a user to every high-priority alarm by e-mail (the demo's rule)."""
    async with _session() as session:
        await subscribe_demo_user(session, username=username, email=email)
    print(f"{username} <{email}> is told of high-priority alarms by e-mail", file=sys.stderr)


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
    token = sub.add_parser("create-token", help="create an API token for an integrator, print it")
    token.add_argument("--name", required=True, help="who or what uses it, unique")
    token.add_argument("--access", required=True, choices=[a.value for a in Access])
    token.add_argument("--sites", default="", help="comma-separated site codes (default: all)")
    token.add_argument("--days", type=int, default=90, help="lifetime in days (1…366)")
    sub.add_parser("list-tokens", help="list API tokens (never their secrets)")
    revoke = sub.add_parser("revoke-token", help="revoke an API token at once")
    revoke.add_argument("id", type=int, help="token id, from list-tokens")
    rejections = sub.add_parser("rejections", help="what ingest refused for a site, by reason")
    rejections.add_argument("--site", required=True, help="site code")
    rejections.add_argument("--hours", type=float, default=24.0, help="look-back window")
    history = sub.add_parser(
        "acknowledge-history", help="acknowledge a backfilled demo history's alarms, at the time"
    )
    history.add_argument(
        "histories",
        nargs="+",
        type=_site_history,
        metavar="CODE=TIME",
        help="a site and its history's end, e.g. x=2026-12-01T12:00Z",
    )
    demo = sub.add_parser("demo-notifications", help="e-mail a user every high-priority alarm")
    demo.add_argument("--user", required=True)
    demo.add_argument("--email", required=True)
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
        if args.command in ("load-sites", "seed-demo"):  # seed-demo: the demo fleet's file
            asyncio.run(load_sites(getattr(args, "file", DEMO_FLEET_FILE)))
        elif args.command == "create-edge-device":
            asyncio.run(new_edge_device(args.site, args.name, rotate=args.rotate))
        elif args.command == "create-user":
            asyncio.run(
                save_user_now(
                    args.username, args.role, args.sites, password_stdin=args.password_stdin
                )
            )
        elif args.command == "create-token":
            asyncio.run(new_api_token(args.name, args.access, args.sites, args.days))
        elif args.command == "list-tokens":
            asyncio.run(show_tokens())
        elif args.command == "revoke-token":
            asyncio.run(end_api_token(args.id))
        elif args.command == "rejections":
            asyncio.run(show_rejections(args.site, args.hours))
        elif args.command == "acknowledge-history":
            asyncio.run(acknowledge_demo_history(args.histories))
        elif args.command == "demo-notifications":
            asyncio.run(demo_notifications(args.user, args.email))
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
                # The app believes X-Forwarded-* only from RIDETHROUGH_TRUSTED_PROXIES (see
                # app.core.proxies); uvicorn's own would trust any local peer's header.
                proxy_headers=False,
            )
    except (FleetConfigError, UnknownSiteError, DuplicateDeviceError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
