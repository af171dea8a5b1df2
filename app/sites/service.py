"""Registry operations: apply site configuration files, list the fleet."""

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.scope import SiteIds
from app.core.security import hash_token, new_token
from app.sites import repository
from app.sites.schemas import FleetConfig, SiteConfig

DEMO_FLEET_FILE = Path(__file__).with_name("demo_fleet.toml")


class FleetConfigError(ValueError):
    """A site configuration file that cannot be used, with the file and field named."""


@dataclass(frozen=True)
class AppliedSite:
    """What applying one site's configuration changed."""

    code: str
    site_id: int
    rack_ids: list[int]
    new_modules: int


def load_fleet_config(path: Path) -> FleetConfig:
    """Parse and validate a TOML file of [[site]] tables."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return FleetConfig.model_validate(raw)
    except OSError as exc:
        raise FleetConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise FleetConfigError(f"{path}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])} = {e.get('input')!r}: {e['msg']}"
            for e in exc.errors()
        )
        raise FleetConfigError(f"{path}: {problems}") from exc


async def apply_site_config(session: AsyncSession, *, config: SiteConfig) -> AppliedSite:
    """Create or update one site with its strings and modules; safe to run repeatedly."""
    site_id = await repository.upsert_site(session, config)
    rack_ids = await repository.ensure_racks(session, site_id, config)
    new_modules = await repository.ensure_modules(session, rack_ids, config)
    return AppliedSite(config.code, site_id, rack_ids, new_modules)


async def apply_fleet_config(session: AsyncSession, *, fleet: FleetConfig) -> list[AppliedSite]:
    """Apply every site of a fleet configuration."""
    return [await apply_site_config(session, config=site) for site in fleet.site]


class UnknownSiteError(LookupError):
    """No site has the given code."""


class DuplicateDeviceError(ValueError):
    """The site already has an edge device with that name."""


EDGE_TOKEN_PREFIX = "rte_"  # noqa: S105 - a public prefix, not a secret


async def create_edge_device(
    session: AsyncSession,
    *,
    site_code: str,
    name: str,
    rotate: bool = False,
    scope: SiteIds = None,
) -> str:
    """Register an edge device and return its token (only its hash is stored).

    With `rotate`, an existing device of that name gets a new token and the old one stops working.
    A site outside `scope` (the acting admin's sites) reads as unknown.
    """
    site_id = await repository.site_id_by_code(session, site_code)
    if site_id is None or (scope is not None and site_id not in scope):
        raise UnknownSiteError(f"no site with code {site_code!r}")
    token = new_token(EDGE_TOKEN_PREFIX)
    if await repository.edge_device_exists(session, site_id=site_id, name=name):
        if not rotate:
            raise DuplicateDeviceError(
                f"site {site_code!r} already has an edge device named {name!r} "
                "(use --rotate to issue it a new token)"
            )
        await repository.set_edge_token(
            session, site_id=site_id, name=name, token_hash=hash_token(token)
        )
        return token
    await repository.insert_edge_device(
        session, site_id=site_id, name=name, token_hash=hash_token(token)
    )
    return token
