"""Edge device authentication: a bearer token resolves to one device of one site."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import SessionDep
from app.core.security import hash_token
from app.sites.models import EdgeDevice, Site


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """The authenticated edge device and the only site it may write to."""

    device_id: int
    site_id: int
    site_code: str


def bearer_token(request: Request) -> str:
    """The token of an 'Authorization: Bearer ...' header, or 401."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            401,
            "missing bearer token (Authorization: Bearer <device token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


async def current_device(request: Request, session: SessionDep) -> DeviceIdentity:
    """The device behind the request's token; 401 for an unknown or revoked token."""
    return await device_for_token(session, bearer_token(request))


# Built once: every ingest batch runs it, and a Core select() costs more to build than to run.
DEVICE_FOR_TOKEN = (
    select(EdgeDevice.id, EdgeDevice.site_id, Site.code)
    .join(Site, Site.id == EdgeDevice.site_id)
    .where(EdgeDevice.token_hash == bindparam("token_hash"), EdgeDevice.revoked_at.is_(None))
)


async def device_for_token(session: AsyncSession, token: str) -> DeviceIdentity:
    """The device a token belongs to; 401 for an unknown or revoked token."""
    row = (await session.execute(DEVICE_FOR_TOKEN, {"token_hash": hash_token(token)})).first()
    if row is None:
        raise HTTPException(
            401, "unknown or revoked device token", headers={"WWW-Authenticate": "Bearer"}
        )
    return DeviceIdentity(row[0], row[1], row[2])


DeviceDep = Annotated[DeviceIdentity, Depends(current_device)]
